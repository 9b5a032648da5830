"""The names a program's subclasses may use: the package adds nothing to
BaseServer, BaseHandler or ResponseData beyond what fbtftp 0.5 defines, but
for one name-mangled attribute of its own. A widely deployed fbtftp program
sets self._settings (its own configuration object) before
BaseServer.__init__, which the package once overwrote with a dict of its
own: every request then failed."""

import hashlib

import pytest

from fbtftp.base_handler import BaseHandler, ResponseData
from fbtftp.base_server import BaseServer
from tftp_client import Client

# What fbtftp 0.5 itself defines on instances (its __init__ and run()).
FBTFTP_SERVER_ATTRIBUTES = {
    "_address", "_port", "_retries", "_timeout", "_server_stats_callback",
    "_family", "_listener", "_selector", "_should_stop", "_server_stats",
    "_metrics_timer",
}
FBTFTP_SERVER_METHODS = {
    "run", "_metrics_callback_wrapper", "restart_stats_timer", "run_once",
    "on_new_data", "get_handler", "close",
}
FBTFTP_HANDLER_ATTRIBUTES = {
    "_timeout", "_server_addr", "_reader", "_retries", "_block_size",
    "_last_block_sent", "_retransmits", "_global_retransmits",
    "_current_block", "_should_stop", "_waiting_last_ack", "_path",
    "_options", "_stats_callback", "_response_data", "_listener", "_peer",
    "_stats", "_family", "_tsize", "_size", "_expire_ts",
}
FBTFTP_HANDLER_METHODS = {
    "_get_listener", "_on_close", "_close", "_parse_options", "run",
    "run_once", "_reset_timeout", "on_new_data", "_handle_ack",
    "_handle_timeout", "_next_block", "_transmit_data", "_transmit_oack",
    "_transmit_error", "get_response_data",
}

# Names a program plausibly uses for its own state, that fbtftp does not
# define, and the names the package once used for its own.
PROGRAM_NAMES = [
    "_settings", "_config", "_core", "_lock", "_api", "_cache", "_logger",
    "_state", "_session", "_engine", "_dispatch", "_dispatched", "_serving",
    "_stopped", "_ended", "_answer", "_given_up", "_session_ended",
    "_interval_ended", "_data",
]


class Settings:
    """A program's own configuration object."""

    uri = "memory://"


def mark_everything(obj, tag):
    for name in PROGRAM_NAMES:
        setattr(obj, name, (tag, name))


def check_everything(obj, tag):
    for name in PROGRAM_NAMES:
        assert getattr(obj, name) == (tag, name), name


class Data(ResponseData):
    def __init__(self, content):
        mark_everything(self, "data")
        self._content = content
        self._at = 0

    def read(self, n):
        check_everything(self, "data")
        chunk = self._content[self._at:self._at + n]
        self._at += len(chunk)
        return chunk

    def size(self):
        return len(self._content)

    def close(self):
        check_everything(self, "data")


class Handler(BaseHandler):
    def __init__(self, server_addr, peer, path, options, server):
        mark_everything(self, "handler before")
        self._server = server
        super().__init__(server_addr, peer, path, options, server.ended)
        check_everything(self, "handler before")
        mark_everything(self, "handler after")

    def get_response_data(self):
        return Data(self._server.content)


class Server(BaseServer):
    def __init__(self, content):
        mark_everything(self, "server before")
        self._settings = Settings()
        self.content = content
        self.sessions = []
        super().__init__("127.0.0.1", 0, 3, 30)
        assert self._settings.uri == "memory://"
        for name in PROGRAM_NAMES:
            if name != "_settings":
                assert getattr(self, name) == ("server before", name), name
        self.after = True

    def get_handler(self, server_addr, peer, path, options):
        assert self._settings.uri == "memory://"
        return Handler(server_addr, peer, path, options, self)

    def ended(self, stats):
        self.sessions.append(stats)


def test_subclasses_own_every_name_fbtftp_leaves_them(serve):
    content = hashlib.sha256(b"namespace").digest() * 100
    server = Server(content)
    with serve(server) as port:
        for _ in range(3):
            assert Client(port).read("kernel")[0] == content
        # Set after run() started too: still the program's.
        mark_everything(server, "server after")
        server._settings = Settings()
        got, oack = Client(port).read("kernel", options=[("blksize", 1024)])
        assert got == content and oack == {"blksize": "1024"}, oack
        for name in PROGRAM_NAMES:
            if name != "_settings":
                assert getattr(server, name) == ("server after", name), name
    assert len(server.sessions) >= 3
    assert all(not s.error for s in server.sessions), [s.error for s in server.sessions]


def test_the_package_adds_one_mangled_name_at_most():
    server = BaseServer("127.0.0.1", 0, 3, 30)
    try:
        ours = set(vars(server)) - FBTFTP_SERVER_ATTRIBUTES
        assert ours <= {"_BaseServer__engine"}, ours
    finally:
        server._listener.close()
    methods = {n for n in vars(BaseServer) if not n.startswith("__")}
    assert methods <= FBTFTP_SERVER_METHODS, methods - FBTFTP_SERVER_METHODS
    handler_methods = {n for n in vars(BaseHandler) if not n.startswith("__")}
    assert handler_methods <= FBTFTP_HANDLER_METHODS, (
        handler_methods - FBTFTP_HANDLER_METHODS)
    data_methods = {n for n in vars(ResponseData) if not n.startswith("__")}
    assert data_methods <= {"read", "size", "close"}, data_methods

    class Probe(BaseHandler):
        def get_response_data(self):
            return Data(b"")

    handler = Probe(("127.0.0.1", 69), ("127.0.0.1", 1000), "x",
                    {"mode": "octet", "default_timeout": 2, "retries": 3},
                    lambda stats: None)
    ours = set(vars(handler)) - FBTFTP_HANDLER_ATTRIBUTES
    assert ours <= {"_BaseHandler__engine"}, ours
