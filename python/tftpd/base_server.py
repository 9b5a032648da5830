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
from .base_handler import answer, session_ended, session_given_up
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
        source_threads=256,
        max_transfers=10000,
        max_waiting_requests=4096,
        windowsize_max=64,
        shutdown_grace=2.0,
        max_queued_records=65536,
        retransmit_backoff=True,
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
        (reading responses, at most: started as reads wait for one, an eighth
        kept for sources whose reads are fast), max_transfers, max_waiting_requests (requests
        waiting for a handler thread; more are refused "server busy"),
        windowsize_max (RFC 7440, which fbtftp does not offer), shutdown_grace
        (seconds transfers get to finish when the server stops),
        max_queued_records (session records waiting for the handlers' stats
        callbacks; past them, records are dropped and counted in
        stats_dropped, and their sessions end without a callback),
        retransmit_backoff (each retransmission doubles the wait, up to 8 s
        or the client's timeout; False: fbtftp's fixed timeout).
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
        self._server_stats = ServerStats(address, stats_interval_seconds)
        # The package's own state, under the one name no subclass reaches
        # (_BaseServer__engine): fbtftp defines only the names above, and
        # programs keep theirs (self._settings, self._core, ...) beside them.
        self.__engine = _Engine(
            {
                # One shard per core this process may run on (taskset, cgroups).
                "threads": threads or len(os.sched_getaffinity(0)) or 1,
                "handler_threads": handler_threads,
                "source_threads": source_threads,
                "max_transfers": max_transfers,
                "max_waiting_requests": max_waiting_requests,
                "windowsize_max": windowsize_max,
                "shutdown_grace": float(shutdown_grace),
                # fbtftp's retries: retransmissions after the first, so
                # one more than it says.
                "retries": int(retries) + 1,
                "timeout": float(timeout),
                "stats_interval": float(stats_interval_seconds),
                "max_queued_records": int(max_queued_records),
                "retransmit_backoff": bool(retransmit_backoff),
            }
        )

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
        self.__engine.run(self, run_once)

    def on_new_data(self):
        """Reads one datagram from self._listener and hands it to the engine,
        which handles it as one its own socket received (a request goes to
        get_handler; anything else is refused or ignored, as the engine
        does). fbtftp's loop calls this for each datagram; here the engine
        reads the server's socket itself while run() serves, so a program
        calls it only to feed datagrams it receives elsewhere. Before run()
        starts and after it ends, nothing serves: the datagram is dropped,
        with a warning, as is one from a peer that is no (host, port) the
        server can answer."""
        data, peer = self._listener.recvfrom(65535)
        self.__engine.offer(data, peer)

    def close(self):
        """Stops the server: run() returns once transfers finished (or their
        grace ran out)."""
        self._should_stop = True
        self.__engine.stopped.set()


class _Engine:
    """What the package keeps for a server beside fbtftp's own attributes:
    the engine's settings and handle, and the events run() waits on; and
    the calls the engine makes, with the GIL, on its threads."""

    def __init__(self, settings):
        self.settings = settings
        self.core = None
        self.stopped = threading.Event()
        self.dispatched = threading.Event()
        self.serving = threading.Event()  # Set while run() serves.

    def run(self, server, run_once):
        # The engine's root: an empty directory, as every response here
        # comes from a handler.
        self.settings["root"] = tempfile.mkdtemp(prefix="tftpd-python-")
        try:
            self.core = _core.Server(
                server._listener.fileno(),
                self.settings,
                lambda responder: self.dispatch(server, responder),
                self.session_ended,
                (lambda totals: self.interval_ended(server, totals))
                if server._server_stats_callback
                else None,
            )
            self.core.start()
            logging.info(
                "tftpd serving %s port %d", server._address, server._listener.getsockname()[1]
            )
            self.serving.set()
            while not server._should_stop and not self.core.done():
                if run_once and self.dispatched.is_set():
                    break
                # Wakes for close() at once; the timeout lets Python deliver
                # signals (KeyboardInterrupt) to this thread, and frees
                # handlers whose records were dropped while nothing else
                # called into Python.
                self.stopped.wait(0.5)
                _core.release_deferred_references()
        finally:
            self.serving.clear()
            if self.core is not None:
                self.core.stop()
                self.core.close()
                self.core = None
            server._listener.close()
            shutil.rmtree(self.settings["root"], ignore_errors=True)

    def offer(self, data, peer):
        core = self.core if self.serving.is_set() else None
        if core is None:
            logging.warning("Not serving yet (or any more): dropped a datagram from %r", peer)
            return
        if not (isinstance(peer, tuple) and len(peer) >= 2):
            logging.warning("Dropped a datagram from %r: not a (host, port) address", peer)
            return
        try:
            core.offer(bytes(data), str(peer[0]), int(peer[1]))
        except (ValueError, RuntimeError) as e:
            logging.warning("Dropped a datagram from %r: %s", peer, e)

    def dispatch(self, server, responder):
        self.dispatched.set()
        peer = responder.peer
        path = responder.requested_path
        options = collections.OrderedDict(
            [
                ("mode", responder.mode),
                ("default_timeout", server._timeout),
                ("retries", server._retries),
            ]
        )
        for name, value in responder.options:
            options[name] = value
        server_addr = (server._address, server._listener.getsockname()[1])
        # Attached before get_handler runs: the engine may give up on the
        # request meanwhile, and its record must still find the handler.
        session = _Session()
        responder.set_session(session)
        handler = None
        try:
            handler = server.get_handler(server_addr, peer, path, options)
            if handler is None:
                logging.warning("The handler is null! Not serving the request from %s", peer)
        except Exception as e:
            logging.error("creating a handler for %r raised an exception %s" % (path, e))
            logging.error(traceback.format_exc())
        server._server_stats.increment_counter("process_count")
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
            session_given_up(handler, record)
            return
        try:
            answer(handler, responder, self.settings["retransmit_backoff"])
        except Exception as e:
            logging.exception("answering %r raised an exception %s" % (path, e))
            responder.fail(constants.ERR_UNDEFINED, str(e))

    @staticmethod
    def session_ended(record):
        session = record["session"]
        handler = session.ended(record) if session is not None else None
        if handler is not None:
            session_ended(handler, record)

    @staticmethod
    def interval_ended(server, totals):
        for name, value in totals.items():
            if value and name != "transfers_active":
                server._server_stats.increment_counter(name, value)
        server._server_stats.set_counter("transfers_active", totals.get("transfers_active", 0))
        try:
            server._server_stats_callback(server._server_stats)
        except Exception as exc:
            logging.exception(str(exc))


def engine_of(server):
    """The package's state of `server` (for its own tests and tools)."""
    return server._BaseServer__engine


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
