"""fbtftp's semantics on the engine, request by request: what get_handler
and the handlers are given and asked, what clients get, and the statistics."""

import gc
import hashlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import weakref

import pytest

import fbtftp
import tftpd
from fbtftp.base_handler import BaseHandler, ResponseData, StringResponseData
from fbtftp.base_server import BaseServer
from tftpd.base_server import engine_of
from tftp_client import Client, TftpError


def generated(size, seed):
    """`size` bytes that differ with `seed`."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"%d-%d" % (seed, counter)).digest()
        counter += 1
    return bytes(out[:size])


class Recorded(ResponseData):
    """Bytes served by read(n), recording every call."""

    def __init__(self, content, log):
        self._content = content
        self._offset = 0
        self._log = log

    def read(self, n):
        self._log.append(("read", n))
        chunk = self._content[self._offset:self._offset + n]
        self._offset += len(chunk)
        return chunk

    def size(self):
        self._log.append(("size",))
        return len(self._content)

    def close(self):
        self._log.append(("close",))


class Failing(ResponseData):
    """One block, then the disk is gone."""

    def __init__(self):
        self.reads = 0

    def read(self, n):
        self.reads += 1
        if self.reads > 1:
            raise OSError("disk gone")
        return b"f" * n

    def size(self):
        return 10 ** 6


class Handler(BaseHandler):
    def __init__(self, server_addr, peer, path, options, server):
        self._server = server
        super().__init__(server_addr, peer, path, options, server.session_ended)
        if path == "impatient":
            # A request's own settings, as fbtftp handlers set them.
            self._retries = 0
            self._timeout = 1

    def get_response_data(self):
        return self._server.respond(self._path)


class Server(BaseServer):
    def __init__(self, contents, **kwargs):
        self.contents = contents
        self.calls = []  # What each response was asked, by path.
        self.requests = []  # (server_addr, peer, path, options)
        self.sessions = []
        self.session_event = threading.Event()
        self.release = threading.Event()
        super().__init__("127.0.0.1", 0, 3, 30, **kwargs)

    def get_handler(self, server_addr, peer, path, options):
        self.requests.append((server_addr, peer, path, dict(options)))
        if path == "drop":
            return None
        if path == "slow":
            self.release.wait(30)
        return Handler(server_addr, peer, path, options, self)

    def respond(self, path):
        if path == "missing":
            raise FileNotFoundError("no such file: missing")
        if path == "broken":
            raise RuntimeError("inventory unreachable")
        if path == "text":
            return StringResponseData("one\ntwo\n")
        if path == "failing":
            return Failing()
        log = []
        self.calls.append((path, log))
        return Recorded(self.contents.get(path, b"x" * 700), log)

    def session_ended(self, stats):
        self.sessions.append(stats)
        self.session_event.set()

    def wait_sessions(self, n):
        deadline = time.monotonic() + 30
        while len(self.sessions) < n and time.monotonic() < deadline:
            self.session_event.wait(1)
            self.session_event.clear()
        assert len(self.sessions) >= n


def test_fbtftp_is_this_package():
    assert fbtftp.BaseServer is tftpd.BaseServer
    assert fbtftp.base_handler.ResponseData is tftpd.ResponseData
    assert fbtftp.constants.ERR_FILE_NOT_FOUND == 1


@pytest.mark.parametrize(
    "setting",
    [
        {"handler_threads": 0},
        {"source_threads": -1},
        {"max_transfers": 0},
        {"max_waiting_requests": 1.5},
        {"windowsize_max": 65536},
        {"max_queued_records": 0},
        {"threads": 0},
        {"shutdown_grace": -1},
    ],
)
def test_a_bad_engine_setting_is_refused_by_name(setting):
    name = next(iter(setting))
    with pytest.raises(ValueError, match=name):
        Server({}, **setting)


def test_read_is_asked_for_the_block_size_and_close_always(serve):
    content = generated(10000, 1)
    server = Server({"a": content})
    with serve(server) as port:
        client = Client(port)
        got, oack = client.read("a", options=[("blksize", 1000)])
        assert got == content
        assert oack == {"blksize": "1000"}
        server.wait_sessions(1)
    path, log = server.calls[0]
    reads = [c for c in log if c[0] == "read"]
    assert reads and all(n == 1000 for _, n in reads)
    # size() only when tsize was asked; close() once at the end.
    assert ("size",) not in log
    assert log[-1] == ("close",) and log.count(("close",)) == 1


def test_size_is_asked_only_for_tsize(serve):
    server = Server({"a": b"z" * 3000})
    with serve(server) as port:
        got, oack = Client(port).read("a", options=[("tsize", 0)])
        assert got == b"z" * 3000
        assert oack == {"tsize": "3000"}
        server.wait_sessions(1)
    assert server.calls[0][1].count(("size",)) == 1


def test_the_options_dict_is_built_as_fbtftp_builds_it(serve):
    server = Server({})
    with serve(server) as port:
        Client(port).read("a", options=[("TSize", 0), ("blksize", 600)])
        server.wait_sessions(1)
    server_addr, peer, path, options = server.requests[0]
    assert list(options) == ["mode", "default_timeout", "retries", "tsize", "blksize"]
    assert options["mode"] == "octet"
    assert options["default_timeout"] == 30 and options["retries"] == 3
    assert options["tsize"] == "0" and options["blksize"] == "600"
    assert server_addr == ("127.0.0.1", port)
    assert peer[0] == "127.0.0.1"
    assert path == "a"


def test_file_not_found_is_error_1_and_other_exceptions_error_0(serve):
    server = Server({})
    with serve(server) as port:
        with pytest.raises(TftpError) as missing:
            Client(port).read("missing")
        assert missing.value.code == 1
        assert missing.value.message == "no such file: missing"
        with pytest.raises(TftpError) as broken:
            Client(port).read("broken")
        assert broken.value.code == 0
        assert broken.value.message == "inventory unreachable"
        server.wait_sessions(2)
    errors = sorted((s.file_path, s.error["error_code"]) for s in server.sessions)
    assert errors == [("broken", 0), ("missing", 1)]


def test_what_read_raises_is_error_0_and_goes_to_the_log(serve, caplog):
    server = Server({})
    with caplog.at_level(logging.ERROR):
        with serve(server) as port:
            with pytest.raises(TftpError) as failed:
                Client(port).read("failing")
            server.wait_sessions(1)
    assert failed.value.code == 0
    assert failed.value.message == "Error while reading from source"
    assert server.sessions[0].error == {
        "error_code": 0, "error_message": "Error while reading from source"}
    logged = [r for r in caplog.records
              if r.getMessage() == "Error while reading from source: disk gone"]
    assert len(logged) == 1
    assert logged[0].levelno == logging.ERROR
    assert isinstance(logged[0].exc_info[1], OSError)  # With its traceback.


def test_a_handler_of_none_drops_the_request_without_an_answer(serve):
    server = Server({"a": b"answer"})
    with serve(server) as port:
        client = Client(port)
        client.send_request("drop")
        deadline = time.monotonic() + 30
        while engine_of(server).core.totals().get("requests_dropped", 0) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # Had the drop been answered, that answer would arrive first.
        got, _ = client.read("a")
        assert got == b"answer"
    assert [r[2] for r in server.requests] == ["drop", "a"]


def test_session_statistics_reach_the_handlers_callback(serve):
    content = generated(5000, 2)
    server = Server({"a": content})
    with serve(server) as port:
        Client(port).read("a", options=[("blksize", 1024), ("tsize", 0)])
        server.wait_sessions(1)
    stats = server.sessions[0]
    assert stats.error == {}
    assert stats.file_path == "a"
    assert stats.peer[0] == "127.0.0.1"
    assert stats.server_addr == ("127.0.0.1", port)
    assert stats.bytes_sent == 5000
    assert stats.blksize == 1024
    assert stats.retransmits == 0
    # OACK and five DATA, each acknowledged (ACK 0 for the OACK).
    assert stats.packets_sent == 6 and stats.packets_acked == 6
    assert stats.options == {"blksize": "1024", "tsize": "5000"}
    assert stats.options_in == {"mode": "octet", "blksize": "1024", "tsize": "0"}
    assert stats.start_time > 0 and stats.duration() >= 0


def test_a_requests_own_retries_and_timeout_are_honoured(serve):
    # The server's: 3 retries, 30 s; this request's: none, 1 s, which in
    # fbtftp's words is one retransmission.
    server = Server({"impatient": generated(5000, 3)})
    with serve(server) as port:
        client = Client(port)
        got, _ = client.read("impatient", stop_after=1)  # Then silence.
        server.wait_sessions(1)
    stats = server.sessions[0]
    assert stats.retransmits == 1
    assert stats.error["error_code"] == 0
    assert "timeout" in stats.error["error_message"]
    assert stats.duration() < 10
    assert server.calls[0][1][-1] == ("close",)


def test_a_client_that_never_answers_still_ends_its_session(serve):
    # Nothing acknowledged, not even the first block: the session still
    # ends, with fbtftp's timeout error, and the server keeps nothing of it.
    server = Server({"impatient": generated(5000, 5)})
    with serve(server) as port:
        client = Client(port)
        client.send_request("impatient")
        client.receive()  # DATA 1, never acknowledged.
        server.wait_sessions(1)
    assert "timeout" in server.sessions[0].error["error_message"]
    assert server.calls[0][1][-1] == ("close",)


class StuckStatistics(Server):
    """The handlers' stats callback stuck on its first session, with room
    for one record behind it."""

    def __init__(self):
        super().__init__({}, max_queued_records=1)
        self.handlers = []
        self.stuck = threading.Event()
        self.unstick = threading.Event()

    def get_handler(self, server_addr, peer, path, options):
        handler = super().get_handler(server_addr, peer, path, options)
        self.handlers.append(weakref.ref(handler))
        return handler

    def session_ended(self, stats):
        if not self.stuck.is_set():
            self.stuck.set()
            self.unstick.wait(30)
        super().session_ended(stats)


def test_a_session_whose_record_is_dropped_keeps_nothing(serve):
    # Sessions end faster than the stats callback takes their records: the
    # engine drops records past its queue (counted), and the server must
    # not keep those sessions' handlers waiting for them, or peers could
    # grow its memory without bound.
    server = StuckStatistics()
    with serve(server) as port:
        client = Client(port)
        client.read("first")
        assert server.stuck.wait(30)
        for i in range(5):
            client.read("later%d" % i)
        deadline = time.monotonic() + 30
        while engine_of(server).core.totals().get("stats_dropped", 0) < 4:
            assert time.monotonic() < deadline, engine_of(server).core.totals()
            server.session_event.wait(0.05)
        # The four whose records were dropped go, while the callback is
        # still stuck; the first (in the callback) and the second (queued)
        # stay for their records.
        while True:
            gc.collect()
            alive = [h for h in server.handlers if h() is not None]
            if len(alive) <= 2:
                break
            assert time.monotonic() < deadline, alive
            server.session_event.wait(0.05)
        assert len(alive) == 2
        server.unstick.set()
        server.wait_sessions(2)
    assert server.sessions[0].file_path == "first"
    assert server.sessions[1].file_path.startswith("later")
    assert len(server.sessions) == 2


def test_a_request_given_up_while_get_handler_runs_still_ends_its_session(serve):
    # The engine may give up on a request while get_handler is still making
    # its handler: here a newer request evicts it (max_transfers=1). Its
    # record may come before the handler exists; the handler, once made,
    # still gets its stats callback, and its response is closed.
    # One shard, so that the two requests share its one transfer.
    server = Server({"fast": generated(700, 6)}, max_transfers=1, threads=1)
    with serve(server) as port:
        Client(port).send_request("slow")  # get_handler waits for release.
        deadline = time.monotonic() + 30
        while not any(r[2] == "slow" for r in server.requests):
            assert time.monotonic() < deadline
            server.session_event.wait(0.05)
        got, _ = Client(port).read("fast")
        assert got == generated(700, 6)
        assert engine_of(server).core.totals().get("transfers_evicted", 0) == 1
        server.release.set()
        server.wait_sessions(2)
    slow = [s for s in server.sessions if s.file_path == "slow"]
    assert len(slow) == 1
    assert "timeout" in slow[0].error["error_message"]
    assert [log for path, log in server.calls if path == "slow"] == [[("close",)]]


def test_close_is_called_when_the_client_gives_up(serve):
    server = Server({"a": generated(100000, 4)})
    with serve(server) as port:
        client = Client(port)
        client.send_request("a")
        packet, sender = client.receive()
        client.sock.sendto(b"\0\5\0\0client gave up\0", sender)
        server.wait_sessions(1)
    assert server.sessions[0].error == {"error_code": 0, "error_message": "client gave up"}
    assert server.calls[0][1][-1] == ("close",)


def test_netascii_is_encoded(serve):
    server = Server({})
    with serve(server) as port:
        got, _ = Client(port).read("text", mode="netascii")
    assert got == b"one\r\ntwo\r\n"


def test_a_blocking_handler_holds_no_other_request(serve):
    server = Server({"fast": generated(20000, 5)})
    with serve(server) as port:
        slow = Client(port)
        slow.send_request("slow")
        got, _ = Client(port).read("fast")
        assert got == generated(20000, 5)
        server.release.set()
        packet, _ = slow.receive()
        assert packet[:4] == b"\0\3\0\1"


def test_server_statistics_with_user_counters(serve):
    seen = []
    ready = threading.Event()

    def on_stats(stats):
        counters = stats.get_and_reset_all_counters()
        seen.append(counters)
        if counters.get("process_count"):
            ready.set()

    server = Server({}, server_stats_callback=on_stats, stats_interval_seconds=0.2)
    server._server_stats.increment_counter("mine", 5)
    with serve(server) as port:
        Client(port).read("a")
        assert ready.wait(30)
    merged = {}
    for counters in seen:
        for k, v in counters.items():
            merged[k] = merged.get(k, 0) + v
    assert merged["mine"] == 5
    assert merged["process_count"] == 1
    assert merged["transfers_completed"] == 1


def test_keyboard_interrupt_stops_run():
    script = os.path.join(os.path.dirname(__file__), "interrupted_server.py")
    proc = subprocess.Popen(
        [sys.executable, script], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        port = int(proc.stdout.readline())
        got, _ = Client(port).read("hello")  # Serving: run() is running.
        assert got == b"hello"
        proc.send_signal(signal.SIGINT)
        assert proc.stdout.readline().strip() == "stopped"
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        proc.wait()
