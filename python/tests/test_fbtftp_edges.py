"""Where fbtftp programs in the wild lean on fbtftp's own behaviour: a size()
that is only an estimate, modes fbtftp hands to get_handler, what retries
and timeout mean, and a read() that gives more than it was asked."""

import os
import subprocess
import tempfile

import pytest

from fbtftp.base_handler import BaseHandler, ResponseData
from recording import RecordingServer
from tftp_client import Client, TftpError

CONTENT = bytes(range(256)) * 80  # 20,480 bytes, as the review's file.


class Served(ResponseData):
    """CONTENT with a size() off by `size_error`, read in pieces of up to
    `extra` bytes more than asked (fbtftp sends what read returns)."""

    def __init__(self, server, size_error=0, extra=0):
        self._server = server
        self._size_error = size_error
        self._extra = extra
        self._at = 0

    def read(self, n):
        n += self._extra
        chunk = CONTENT[self._at:self._at + n]
        self._at += len(chunk)
        return chunk

    def size(self):
        return len(CONTENT) + self._size_error

    def close(self):
        with self._server.lock:
            self._server.closed += 1
            self._server.changed.notify_all()


class Handler(BaseHandler):
    def __init__(self, server_addr, peer, path, options, server):
        self._server = server
        super().__init__(server_addr, peer, path, options, server.session_ended)
        if path == "impatient":
            self._retries = 1
            self._timeout = 1

    def get_response_data(self):
        if self._path == "shorter":
            return Served(self._server, size_error=-100)
        if self._path == "longer":
            return Served(self._server, size_error=+100)
        if self._path == "generous":
            return Served(self._server, extra=100)
        return Served(self._server)


class Server(RecordingServer):
    def __init__(self, **kwargs):
        self.closed = 0  # Responses closed.
        super().__init__("127.0.0.1", 0, 3, 2, **kwargs)

    def get_handler(self, server_addr, peer, path, options):
        self.record_request(server_addr, peer, path, options)
        return Handler(server_addr, peer, path, options, self)


def curl(port, name, out):
    return subprocess.run(
        ["curl", "-sS", "--max-time", "60", "-o", out, "tftp://127.0.0.1:%d/%s" % (port, name)],
        capture_output=True,
        # Not ours: no sanitizer runtime preloaded (run_python.sh).
        env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"},
    )


@pytest.mark.parametrize("name,announced", [("shorter", 20380), ("longer", 20580)])
def test_size_is_announced_not_enforced(serve, caplog, name, announced):
    # fbtftp sends every byte read() gives, whatever size() said; so does
    # the package, and the session's statistics and the log say they differed.
    server = Server()
    with serve(server) as port:
        got, oack = Client(port).read(name, options=[("tsize", 0)])
        with tempfile.TemporaryDirectory() as d:
            result = curl(port, name, os.path.join(d, "out"))
            assert result.returncode == 0, result.stderr
            with open(os.path.join(d, "out"), "rb") as f:
                assert f.read() == CONTENT
        server.wait(lambda: len(server.sessions) == 2)
    assert oack["tsize"] == str(announced)
    assert got == CONTENT
    for stats in server.sessions:
        assert stats.error == {}
        assert stats.size_announced == announced
        assert stats.size_read == len(CONTENT)
    assert any(
        "size() announced %d" % announced in r.getMessage() and "20480" in r.getMessage()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]


def test_a_size_that_matches_says_nothing(serve, caplog):
    server = Server()
    with serve(server) as port:
        got, _ = Client(port).read("exact", options=[("tsize", 0)])
        server.wait(lambda: len(server.sessions) == 1)
    assert got == CONTENT
    assert server.sessions[0].size_announced == len(CONTENT)
    assert server.sessions[0].size_read == len(CONTENT)
    assert not any("size() announced" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("mode", ["mail", "MAIL", "binascii"])
def test_an_unsupported_mode_reaches_get_handler_then_error_4(serve, mode):
    server = Server()
    with serve(server) as port:
        client = Client(port)
        client.send_request("exact", mode=mode)
        with pytest.raises(TftpError) as refused:
            client.receive()
        server.wait(lambda: len(server.sessions) == 1 and server.closed == 1)
    expected = "Unknown mode: %r" % mode.lower()
    assert refused.value.code == 4
    assert refused.value.message == expected
    assert server.requests[0][3]["mode"] == mode.lower()
    assert server.sessions[0].error == {"error_code": 4, "error_message": expected}


@pytest.mark.parametrize("backoff", [True, False])
def test_retries_are_fbtftps_count_of_retransmissions(serve, backoff):
    # retries 1: fbtftp sends the block, then twice more, then gives up.
    # The client acknowledges block 1 first: to a client never heard from
    # the engine sends one copy more and no others (README, "Spoofed
    # traffic and bounds").
    server = Server(retransmit_backoff=backoff)
    with serve(server) as port:
        client = Client(port, timeout=30)
        client.read("impatient", stop_after=1)
        copies = []
        while len(copies) < 3:
            packet, _ = client.receive()
            copies.append(packet[:4])
        server.wait(lambda: len(server.sessions) == 1)
    assert copies == [b"\0\3\0\2"] * 3
    stats = server.sessions[0]
    assert stats.retransmits == 2
    assert stats.error == {"error_code": 0, "error_message": "timeout after 2 retransmits."}


def test_a_read_giving_more_than_asked_loses_nothing(serve, caplog):
    # fbtftp sends the oversized block as it is (a DATA longer than blksize,
    # which clients reject); the package sends the surplus in the blocks
    # that follow, and says so in the log, once.
    server = Server()
    with serve(server) as port:
        got, _ = Client(port).read("generous")
        server.wait(lambda: len(server.sessions) == 1)
    assert got == CONTENT
    warnings = [r for r in caplog.records if "more than" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


def test_a_write_request_is_refused_without_get_handler(serve):
    server = Server()
    with serve(server) as port:
        client = Client(port)
        client.sock.sendto(b"\0\2upload\0octet\0", client.server)
        with pytest.raises(TftpError) as refused:
            client.receive()
    assert refused.value.code == 4
    assert refused.value.message == "uploads are disabled"
    assert server.requests == []
