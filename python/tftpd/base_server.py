"""The server: what a program subclasses to choose a handler per request
(fbtftp's BaseServer), running on the tftpd engine. The engine's threads
receive and send; get_handler and the handlers run on a pool of their own
(they may block), and responses are read as clients acknowledge them."""

import collections
import ipaddress
import logging
import os
import shutil
import socket
import tempfile
import threading
import traceback

from . import _core
from . import constants
from .stats import ServerStats


class BaseServer:
    def __init__(
        self,
        address,
        port,
        retries,
        timeout,
        server_stats_callback=None,
        stats_interval_seconds=constants.DATAPOINTS_INTERVAL_SECONDS,
        *,
        threads=None,
        handler_threads=16,
        source_threads=4,
        max_transfers=10000,
        max_waiting_requests=4096,
        windowsize_max=64,
        shutdown_grace=2.0,
        max_queued_records=65536,
    ):
        """Binds the socket at once (port 0: the kernel picks one, readable
        from self._listener); serving starts with run().

        Args, as fbtftp's:
            address (str): IPv4 or IPv6 address to bind ("::" takes both).
            port (int): UDP port.
            retries (int): retransmissions before a session gives up; each
                request's handler may change its own.
            timeout (int): seconds before a retransmission, when the client
                asks none; likewise per request.
            server_stats_callback (callable): called with the ServerStats
                every stats_interval_seconds, on a thread of its own.
        The engine's own, keyword-only: threads (the engine's, default one
        per core), handler_threads (get_handler and handlers), source_threads
        (reading responses), max_transfers, max_waiting_requests (requests
        waiting for a handler thread; more are refused "server busy"),
        windowsize_max (RFC 7440, which fbtftp does not offer), shutdown_grace
        (seconds transfers get to finish when the server stops),
        max_queued_records (session records waiting for the handlers' stats
        callbacks; past them, records are dropped and counted in
        stats_dropped, and their sessions end without a callback).
        """
        for name, value, least, most in (
            ("threads", 1 if threads is None else threads, 1, None),
            ("handler_threads", handler_threads, 1, None),
            ("source_threads", source_threads, 1, None),
            ("max_transfers", max_transfers, 1, None),
            ("max_waiting_requests", max_waiting_requests, 1, None),
            ("windowsize_max", windowsize_max, 1, 65535),
            ("max_queued_records", max_queued_records, 1, None),
        ):
            if not isinstance(value, int) or value < least or (most is not None and value > most):
                bound = "at least %d" % least if most is None else "from %d to %d" % (least, most)
                raise ValueError("%s must be a whole number %s, not %r" % (name, bound, value))
        if not shutdown_grace >= 0:
            raise ValueError("shutdown_grace must be 0 or more seconds, not %r" % (shutdown_grace,))
        self._address = address
        self._port = port
        self._retries = retries
        self._timeout = timeout
        self._server_stats_callback = server_stats_callback
        self._family = socket.AF_INET6
        if isinstance(ipaddress.ip_address(self._address), ipaddress.IPv4Address):
            self._family = socket.AF_INET
        self._listener = socket.socket(self._family, socket.SOCK_DGRAM)
        self._listener.setblocking(0)
        self._listener.bind((address, port))
        self._should_stop = False
        self._stopped = threading.Event()
        self._server_stats = ServerStats(address, stats_interval_seconds)
        self._settings = {
            # One shard per core this process may run on (taskset, cgroups).
            "threads": threads or len(os.sched_getaffinity(0)) or 1,
            "handler_threads": handler_threads,
            "source_threads": source_threads,
            "max_transfers": max_transfers,
            "max_waiting_requests": max_waiting_requests,
            "windowsize_max": windowsize_max,
            "shutdown_grace": float(shutdown_grace),
            "retries": int(retries),
            "timeout": float(timeout),
            "stats_interval": float(stats_interval_seconds),
            "max_queued_records": int(max_queued_records),
        }
        self._core = None
        self._dispatched = threading.Event()
        self._serving = threading.Event()  # Set while run() serves.

    def get_handler(self, server_addr, peer, path, options):
        """Returns a BaseHandler for the request, or None to drop it without
        an answer. Runs on a handler thread; may block."""
        raise NotImplementedError()

    def run(self, run_once=False):
        """Serves until close() (or KeyboardInterrupt, which is raised again
        once transfers have had their grace). run_once: stop after the
        first request was handed to get_handler."""
        if self._server_stats_callback is None:
            logging.warning(
                "No callback specified for server statistics logging, will continue without"
            )
        # The engine's root: an empty directory, as every response here
        # comes from a handler.
        self._settings["root"] = tempfile.mkdtemp(prefix="tftpd-python-")
        try:
            self._core = _core.Server(
                self._listener.fileno(),
                self._settings,
                self._dispatch,
                self._session_ended,
                self._interval_ended if self._server_stats_callback else None,
            )
            self._core.start()
            logging.info(
                "tftpd serving %s port %d", self._address, self._listener.getsockname()[1]
            )
            self._serving.set()
            while not self._should_stop and not self._core.done():
                if run_once and self._dispatched.is_set():
                    break
                # Wakes for close() at once; the timeout lets Python deliver
                # signals (KeyboardInterrupt) to this thread, and frees
                # handlers whose records were dropped while nothing else
                # called into Python.
                self._stopped.wait(0.5)
                _core.release_deferred_references()
        finally:
            self._serving.clear()
            if self._core is not None:
                self._core.stop()
                self._core.close()
                self._core = None
            self._listener.close()
            shutil.rmtree(self._settings["root"], ignore_errors=True)

    def close(self):
        """Stops the server: run() returns once transfers finished (or their
        grace ran out)."""
        self._should_stop = True
        self._stopped.set()

    # Called by the engine, with the GIL, on its threads.

    def _dispatch(self, responder):
        self._dispatched.set()
        peer = responder.peer
        path = responder.requested_path
        options = collections.OrderedDict(
            [
                ("mode", responder.mode),
                ("default_timeout", self._timeout),
                ("retries", self._retries),
            ]
        )
        for name, value in responder.options:
            options[name] = value
        server_addr = (self._address, self._listener.getsockname()[1])
        # Attached before get_handler runs: the engine may give up on the
        # request meanwhile, and its record must still find the handler.
        session = _Session()
        responder.set_session(session)
        handler = None
        try:
            handler = self.get_handler(server_addr, peer, path, options)
            if handler is None:
                logging.warning("The handler is null! Not serving the request from %s", peer)
        except Exception as e:
            logging.error("creating a handler for %r raised an exception %s" % (path, e))
            logging.error(traceback.format_exc())
        self._server_stats.increment_counter("process_count")
        if handler is None:
            responder.drop()
            return
        # The engine keeps the handler until the session's record, which
        # carries it back (or, dropped, lets go of it): nothing here to
        # outlive a record lost to a stats callback that fell behind.
        record = session.attach(handler)
        if record is not None:
            # Given up while get_handler ran (evicted for a newer request,
            # or the server stopping): no client reads an answer now.
            handler._given_up(record)
            return
        try:
            handler._answer(responder)
        except Exception as e:
            logging.exception("answering %r raised an exception %s" % (path, e))
            responder.fail(constants.ERR_UNDEFINED, str(e))

    def _session_ended(self, record):
        session = record["session"]
        handler = session.ended(record) if session is not None else None
        if handler is not None:
            handler._ended(record)

    def _interval_ended(self, totals):
        for name, value in totals.items():
            if value and name != "transfers_active":
                self._server_stats.increment_counter(name, value)
        self._server_stats.set_counter("transfers_active", totals.get("transfers_active", 0))
        try:
            self._server_stats_callback(self._server_stats)
        except Exception as exc:
            logging.exception(str(exc))


class _Session:
    """What a request's record carries back: its handler, once get_handler
    has made it. A record that comes first (the engine gave up on the
    request while get_handler ran) is kept for the handler to end with."""

    __slots__ = ("_lock", "_handler", "_record")

    def __init__(self):
        self._lock = threading.Lock()
        self._handler = None
        self._record = None

    def attach(self, handler):
        """The handler is made: the record, if it came already."""
        with self._lock:
            self._handler = handler
            return self._record

    def ended(self, record):
        """The record came: the handler, if it is made already."""
        with self._lock:
            self._record = record
            return self._handler
