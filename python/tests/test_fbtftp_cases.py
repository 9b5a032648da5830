"""The cases of fbtftp's own base_server_test.py and base_handler_test.py
that test what a program can see, on the package. fbtftp's tests reach them
through its internals (a mocked selector and socket, _parse_options,
_next_block); here each goes through the socket, as a program's clients
do. The internals themselves are the engine's (docs/python.md, "Porting")."""

import threading

import pytest

from fbtftp.base_handler import BaseHandler, ResponseData, StringResponseData
from recording import RecordingServer
from tftp_client import Client, TftpError


class Ending(ResponseData):
    """Pieces, then None where fbtftp's tests end a response with it."""

    def __init__(self, pieces):
        self._pieces = list(pieces)

    def read(self, n):
        return self._pieces.pop(0) if self._pieces else None

    def size(self):
        return None

    def close(self):
        pass


class Handler(BaseHandler):
    def __init__(self, server_addr, peer, path, options, server):
        self._server = server
        super().__init__(server_addr, peer, path, options, server.session_ended)

    def get_response_data(self):
        if self._path == "bacon":
            return StringResponseData("bacon")
        if self._path == "bacon281":
            return StringResponseData("bacon" * 281)
        if self._path == "text":
            return StringResponseData("foo\nbar\n")
        if self._path == "pieces":
            return Ending([b"ba", b"con"])
        raise FileNotFoundError(self._path)


class Server(RecordingServer):
    def __init__(self, **kwargs):
        super().__init__("::", 0, 200, 100, **kwargs)

    def get_handler(self, server_addr, peer, path, options):
        self.record_request(server_addr, peer, path, options)
        return Handler(server_addr, peer, path, options, self)


def test_rrq_gives_get_handler_the_path_and_options(serve):
    # testRRQ: any mode and any option reach get_handler as sent (names in
    # lower case), with the server's retries and timeout; process_count
    # counts the request.
    server = Server()
    with serve(server) as port:
        client = Client(port, host="::1")
        client.sock.sendto(b"\0\1some_file\0binascii\0OPT1_key\0opt1_val\0", client.server)
        with pytest.raises(TftpError):
            client.receive()  # Then ERROR 4, for its mode.
        server.wait(lambda: len(server.requests) == 1)
    server_addr, peer, path, options = server.requests[0]
    assert path == "some_file"
    assert options == {"default_timeout": 100, "mode": "binascii", "opt1_key": "opt1_val",
                       "retries": 200}
    assert server_addr == ("::", port)
    assert peer[0] == "::1"
    assert server._server_stats.get_counter("process_count") == 1


def test_an_unexpected_opcode_reaches_no_handler(serve):
    # testUnexpectedOpsCode: the datagram is not a request; the next one is.
    server = Server()
    with serve(server) as port:
        client = Client(port, host="::1")
        client.sock.sendto(b"\0\xffsome_file\0octet\0", client.server)
        got, _ = client.read("bacon")
        server.wait(lambda: len(server.requests) >= 1)
    assert got == b"bacon"
    assert [r[2] for r in server.requests] == ["bacon"]


def test_a_server_stats_callback_that_raises_is_called_again(serve):
    # testCallbackException: the exception is logged, the timer goes on.
    calls = []
    called_twice = threading.Event()

    def on_stats(stats):
        calls.append(stats)
        if len(calls) >= 2:
            called_twice.set()
        raise Exception("boom!")

    server = Server(server_stats_callback=on_stats, stats_interval_seconds=0.2)
    with serve(server):
        assert called_twice.wait(30)


def test_netascii_options_and_statistics(serve):
    # testParseOptionsNetascii: options_in has the mode and the options as
    # asked; the options acknowledged have no mode; blksize is the one asked.
    # The package does not announce tsize in netascii (docs/python.md).
    server = Server()
    with serve(server) as port:
        got, oack = Client(port, host="::1").read(
            "text", mode="netascii", options=[("blksize", 1492), ("tsize", 0), ("timeout", 99)])
        server.wait(lambda: len(server.sessions) == 1)
    stats = server.sessions[0]
    assert got == b"foo\r\nbar\r\n"
    assert stats.options_in == {"mode": "netascii", "blksize": "1492", "tsize": "0", "timeout": "99"}
    assert "mode" not in stats.options
    assert stats.options == oack == {"blksize": "1492", "timeout": "99"}
    assert stats.blksize == 1492


@pytest.mark.parametrize(
    "path,blocks",
    [("bacon", [b"bacon"]), ("bacon281", [b"bacon" * 280, b"bacon"]), ("pieces", [b"bacon"])],
)
def test_blocks_are_read_as_fbtftp_reads_them(serve, path, blocks):
    # testNextBlock: a one-block response, one of two blocks at blksize 1400,
    # and one read in pieces whose read ends with None.
    server = Server()
    with serve(server) as port:
        client = Client(port, host="::1")
        client.send_request(path, options=[("blksize", 1400)])
        packet, sender = client.receive()
        assert packet[:2] == b"\0\6"  # OACK
        client.sock.sendto(b"\0\4\0\0", sender)
        got = []
        for number, expected in enumerate(blocks, 1):
            packet, sender = client.receive()
            assert packet[:4] == b"\0\3" + number.to_bytes(2, "big")
            got.append(packet[4:])
            client.sock.sendto(b"\0\4" + packet[2:4], sender)
        server.wait(lambda: len(server.sessions) == 1)
    assert got == blocks
    assert server.sessions[0].error == {}


# malformed_request_test: fbtftp feeds these to BaseServer.on_new_data
# through a mocked socket and checks that nothing crashes; the package's
# engine reads the socket itself, so they go to the running server, which
# must refuse or ignore each and go on serving.
MALFORMED = [
    b"\0\1some_fi",
    b"\0\1some_file\0",
    b"\0\1some_file\0bina",
    b"\0\1some_file\0binascii\0",
    b"\0\1some_file\0binascii\0a",
    b"\0\1some_file\0binascii\0a\0",
    b"\0\1some_file\0binascii\0a\0b\0",
    b"\0\1",
    b"\0",
    b"",
]


def test_malformed_requests_crash_nothing(serve):
    server = Server()
    with serve(server) as port:
        client = Client(port, host="::1")
        for payload in MALFORMED:
            client.sock.sendto(payload, client.server)
        got, _ = Client(port, host="::1").read("bacon")
        assert got == b"bacon"


class OneDatagram:
    """fbtftp's malformed_request_test's mock listener: one datagram, from
    a peer that is no (host, port) address."""

    def __init__(self, payload):
        self._payload = payload

    def recvfrom(self, size):
        return self._payload, "::1"

    def close(self):
        pass


def test_on_new_data_before_run_drops_the_datagram(caplog):
    # malformed_request_test as fbtftp runs it: the server never runs, so
    # each datagram is dropped with a warning, and nothing crashes.
    server = Server()
    server._listener.close()
    for payload in MALFORMED:
        server._listener = OneDatagram(payload)
        server.on_new_data()
    server.close()
    assert len([r for r in caplog.records if "Not serving" in r.message]) == len(MALFORMED)


@pytest.mark.parametrize("host", ["::1", "127.0.0.1"])
def test_on_new_data_hands_a_datagram_to_the_engine(serve, caplog, host):
    # A program that receives requests on a socket of its own feeds them to
    # the running engine: get_handler sees the request, the client's peer
    # is the client's, and the transfer goes out from the engine (an IPv4
    # client through the server's dual-stack socket).
    import socket

    server = Server()
    with serve(server):
        side = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        side.bind((host, 0))
        side.settimeout(10)
        client = Client(side.getsockname()[1], host=host)
        got = []
        reader = threading.Thread(target=lambda: got.append(client.read("bacon281")))
        reader.start()
        own, server._listener = server._listener, side
        try:
            server.on_new_data()
            server._listener = OneDatagram(b"\0\1bacon\0octet\0")
            server.on_new_data()
        finally:
            server._listener = own
        reader.join(20)
        side.close()
        assert got and got[0][0] == b"bacon" * 281
        assert len(server.requests) == 1
        _, peer, path, _ = server.requests[0]
        assert (peer, path) == ((host, client.sock.getsockname()[1]), "bacon281")
    assert any("not a (host, port)" in r.message for r in caplog.records)
