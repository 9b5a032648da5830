"""Handlers: what a program subclasses to answer one request (fbtftp's
BaseHandler), and the file-like responses they return."""

import io
import logging

from . import constants
from .stats import SessionStats


class ResponseData:
    """A file-like response: read(n) returns up to n bytes (b"" at the end),
    size() the size in bytes (asked only when the client asked tsize; None
    for unknown), close() is called once, however the session ends."""

    def read(self, n):
        raise NotImplementedError()

    def size(self):
        raise NotImplementedError()

    def close(self):
        raise NotImplementedError()


class StringResponseData(ResponseData):
    """A str as a response, encoded as latin-1."""

    def __init__(self, string):
        self._size = len(string.encode("latin-1"))
        self._reader = io.StringIO(string)

    def read(self, n):
        return bytes(self._reader.read(n).encode("latin-1"))

    def size(self):
        return self._size

    def close(self):
        pass


class _Reader:
    """The response as the engine reads it, on its source threads. The
    engine calls the data's own read for each block (no frame of ours
    between them) and hands what it raises to failed(), for the log; the
    client gets fbtftp's "Error while reading from source". What close
    raises goes to the log."""

    def __init__(self, data, path=None):
        self.data = data
        self.path = path

    def failed(self, e):
        logging.error("Error while reading from source: %s" % e, exc_info=e)

    def oversized(self, asked, given):
        # fbtftp would send the whole of it as one DATA, longer than the
        # block size, which clients refuse; the engine sends the rest in
        # the blocks that follow. Said once per session.
        logging.warning(
            "ResponseData.read(%d) returned %d bytes for `%s`: more than asked; "
            "the rest goes in the blocks that follow" % (asked, given, self.path)
        )

    def close(self):
        try:
            self.data.close()
        except Exception as e:
            logging.exception("Exception raised when closing response data: %s" % e)


class BaseHandler:
    def __init__(self, server_addr, peer, path, options, stats_callback):
        """One request: subclass it and override get_response_data().

        Args:
            server_addr (tuple): (ip, port) of the server.
            peer (tuple): (ip, port) of the client.
            path (str): the file requested, as the client sent it.
            options (dict): "mode", "default_timeout" and "retries" (the
                server's, which this request may change before it is
                served), then the client's options, lower-case names.
            stats_callback (callable): called with a SessionStats when the
                session ends.
        """
        self._timeout = int(options["default_timeout"])
        self._server_addr = server_addr
        self._retries = int(options["retries"])
        self._block_size = constants.DEFAULT_BLKSIZE
        self._path = path
        self._options = options
        self._stats_callback = stats_callback
        self._response_data = None
        self._listener = None
        self._peer = peer
        logging.info(
            "New connection from peer `%s` asking for path `%s`" % (str(peer), str(path))
        )
        self._stats = SessionStats(self._server_addr, self._peer, self._path)
        try:
            self._response_data = self.get_response_data()
        except FileNotFoundError as e:
            logging.warning(str(e))
            self._stats.error = {
                "error_code": constants.ERR_FILE_NOT_FOUND,
                "error_message": str(e),
            }
        except Exception as e:
            logging.exception("Caught exception: %s." % e)
            self._stats.error = {
                "error_code": constants.ERR_UNDEFINED,
                "error_message": str(e),
            }

    def get_response_data(self):
        """Returns the ResponseData to send. FileNotFoundError refuses the
        request with ERROR 1, any other exception with ERROR 0."""
        raise NotImplementedError()

    def _on_close(self):
        """Called once the session ended: hands the statistics over."""
        self._stats_callback(self._stats)

    def _close(self):
        try:
            self._on_close()
        except Exception as e:
            logging.exception("Exception raised when calling _on_close: %s" % e)


# The engine's side of a session, as functions of the handler rather than
# methods: a program's handler subclass keeps every name fbtftp leaves it
# (tftpd.base_server calls these).

def answer(handler, responder, backoff=True):
    """Gives the engine this request's answer; False when refused.
    backoff: each retransmission doubles the wait (False: fbtftp's fixed
    timeout)."""
    options = dict(handler._options)
    options.pop("retries", None)
    options.pop("default_timeout", None)
    handler._stats.options_in = options
    if handler._stats.error:
        responder.fail(handler._stats.error["error_code"], handler._stats.error["error_message"])
        return False
    if handler._response_data is None:
        handler._stats.error = {
            "error_code": constants.ERR_UNDEFINED,
            "error_message": "get_response_data returned None",
        }
        responder.fail(constants.ERR_UNDEFINED, handler._stats.error["error_message"])
        return False
    mode = options.get("mode")
    if mode not in ("octet", "netascii"):
        # As fbtftp: the handler was made, then the mode is refused.
        handler._stats.error = {
            "error_code": constants.ERR_ILLEGAL_OPERATION,
            "error_message": "Unknown mode: %r" % mode,
        }
        _Reader(handler._response_data).close()
        responder.fail(constants.ERR_ILLEGAL_OPERATION, handler._stats.error["error_message"])
        return False
    size = None
    if "tsize" in options:
        try:
            size = handler._response_data.size()
        except Exception as e:
            logging.exception("Caught exception: %s." % e)
            handler._stats.error = {"error_code": constants.ERR_UNDEFINED, "error_message": str(e)}
            responder.fail(constants.ERR_UNDEFINED, str(e))
            _Reader(handler._response_data).close()
            return False
    # fbtftp's retries: the first send, then retries + 1 more before giving up.
    responder.set_retry_policy(int(handler._retries) + 1, float(handler._timeout), backoff)
    if size is not None and mode == "octet":  # Netascii announces none.
        handler._stats.size_announced = int(size)
    responder.begin(
        _Reader(handler._response_data, handler._path), None if size is None else int(size)
    )
    return True


def session_given_up(handler, record):
    """The engine gave up on the request before it was answered: no
    source thread will close the response, so it is closed here, and
    the session ends with the engine's record."""
    if handler._response_data is not None:
        _Reader(handler._response_data).close()
    session_ended(handler, record)


def session_ended(handler, record):
    """The engine's record of the session: fills the stats, calls back."""
    stats = handler._stats
    stats.start_time = record["start_time"]
    stats._duration = record["duration"]
    stats.packets_sent = record["packets_sent"]
    stats.bytes_sent = record["bytes_sent"]
    stats.retransmits = record["retransmits"]
    acknowledged = dict(record["options_acknowledged"])
    stats.packets_acked = record["blocks_acknowledged"] + (1 if acknowledged else 0)
    stats.blksize = record["blksize"]
    stats.windowsize = record["windowsize"]
    stats.options = acknowledged
    stats.options_acked = acknowledged
    handler._block_size = record["blksize"]
    outcome = record["outcome"]
    if outcome == "completed":
        stats.size_read = record["bytes_acknowledged"]
        if stats.size_announced is not None and stats.size_announced != stats.size_read:
            # fbtftp's rule: size() is announced, read() decides; a client
            # may refuse a file longer than its tsize, which is the
            # program's to fix.
            logging.warning(
                "size() announced %d bytes for `%s`; read() gave %d"
                % (stats.size_announced, stats.file_path, stats.size_read)
            )
    if outcome in ("timed_out", "unanswered"):
        stats.error = {
            "error_code": constants.ERR_UNDEFINED,
            "error_message": "timeout after {} retransmits.".format(record["retransmits"]),
        }
    elif outcome not in ("completed", "superseded"):
        if not stats.error:
            stats.error = {
                "error_code": record["error_code"],
                "error_message": record["error_message"],
            }
    handler._close()
