"""A slow source delays only its own transfer: reads for different sessions
never wait behind one another, and a slow source's read-ahead stops when its
transfer ends."""

import threading
import time

from fbtftp.base_handler import BaseHandler, ResponseData
from recording import RecordingServer
from tftp_client import Client


class Blocking(ResponseData):
    """An origin that hangs: read() returns only once the test is over."""

    def __init__(self, server):
        self._server = server

    def read(self, n):
        with self._server.lock:
            self._server.blocked_reads += 1
            self._server.changed.notify_all()
        self._server.release.wait(60)
        return b""

    def size(self):
        return None

    def close(self):
        pass


class Slow(ResponseData):
    """A slow origin: each read takes `delay` seconds (its pace, not a wait
    of the test's), counted."""

    def __init__(self, server, delay):
        self._server = server
        self._delay = delay

    def read(self, n):
        with self._server.lock:
            self._server.reads += 1
        time.sleep(self._delay)
        return b"s" * n

    def size(self):
        return None

    def close(self):
        with self._server.lock:
            self._server.closed = True
            self._server.changed.notify_all()


class Handler(BaseHandler):
    def __init__(self, server_addr, peer, path, options, server):
        self._server = server
        super().__init__(server_addr, peer, path, options, server.session_ended)

    def get_response_data(self):
        if self._path == "blocking":
            return Blocking(self._server)
        if self._path == "slow":
            return Slow(self._server, 0.03)
        return _Bytes(b"f" * 20000)


class _Bytes(ResponseData):
    def __init__(self, content):
        self._content = content
        self._offset = 0

    def read(self, n):
        chunk = self._content[self._offset:self._offset + n]
        self._offset += len(chunk)
        return chunk

    def size(self):
        return len(self._content)

    def close(self):
        pass


class Server(RecordingServer):
    def __init__(self, **kwargs):
        self.release = threading.Event()  # The hanging origins return.
        self.blocked_reads = 0
        self.reads = 0
        self.closed = False
        super().__init__("127.0.0.1", 0, 3, 30, **kwargs)

    def get_handler(self, server_addr, peer, path, options):
        return Handler(server_addr, peer, path, options, self)


def test_sources_that_hang_hold_no_other_transfer(serve):
    # Eight origins that hang (more than the four threads reads once had)
    # beside an ordinary 20 KB response: it is served while they hang.
    server = Server()
    with serve(server) as port:
        hanging = [Client(port) for _ in range(8)]
        for client in hanging:
            client.send_request("blocking")
        server.wait(lambda: server.blocked_reads == 8)
        got, _ = Client(port).read("fast")
        assert got == b"f" * 20000
        server.release.set()


def test_a_slow_sources_reading_stops_when_its_transfer_ends(serve):
    # A client that reads 150 blocks and gives up (ERROR) while its slow
    # origin (30 ms a read) is being read ahead: the origin is read no more
    # once the server has the ERROR. Reads once went on to the end of the
    # read-ahead (47 more reads, 1.4 s, after the ERROR, measured).
    server = Server()
    with serve(server) as port:
        client = Client(port)
        client.read("slow", stop_after=150)
        with server.lock:
            reads_when_given_up = server.reads
        client.sock.sendto(b"\0\5\0\0client gave up\0", client.transfer_port)
        server.wait(lambda: server.closed)
    # The read under way, and one begun before the ERROR was read.
    assert server.reads - reads_when_given_up <= 2, (server.reads, reads_when_given_up)
