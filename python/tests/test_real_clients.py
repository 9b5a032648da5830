"""Real TFTP clients from Debian download byte for byte from Python handlers:
one that generates its response, one that reads a file in chunks."""

import hashlib
import os
import subprocess
import tempfile

import pytest

from fbtftp import BaseHandler, BaseServer, ResponseData


class Generated(ResponseData):
    """A response made as it is read: SHA-256 blocks of the path."""

    def __init__(self, seed, size):
        self._seed = seed.encode()
        self._size = size
        self._offset = 0
        # A bytearray: appended to and cut from the front in place (bytes
        # would be copied whole on each, quadratic in what one read asks).
        self._pending = bytearray()
        self._counter = 0

    def read(self, n):
        while len(self._pending) < n and self._offset + len(self._pending) < self._size:
            self._pending += hashlib.sha256(self._seed + b"%d" % self._counter).digest()
            self._counter += 1
        n = min(n, self._size - self._offset)
        chunk = bytes(self._pending[:n])
        del self._pending[:n]
        self._offset += len(chunk)
        return chunk

    def size(self):
        return self._size

    def close(self):
        pass


class ChunkedFile(ResponseData):
    """A file read in 1000-byte pieces, whatever n is (short reads)."""

    def __init__(self, path):
        self._file = open(path, "rb")
        self._size = os.fstat(self._file.fileno()).st_size

    def read(self, n):
        return self._file.read(min(n, 1000))

    def size(self):
        return self._size

    def close(self):
        self._file.close()


def expected_generated(seed, size):
    return Generated(seed, size).read(size)


class Handler(BaseHandler):
    def __init__(self, server_addr, peer, path, options, root):
        self._root = root
        super().__init__(server_addr, peer, path, options, lambda stats: None)

    def get_response_data(self):
        if self._path.startswith("gen/"):
            return Generated(self._path, int(self._path.split("/")[1]))
        return ChunkedFile(os.path.join(self._root, self._path))


class Server(BaseServer):
    def __init__(self, address, root):
        self._root = root
        super().__init__(address, 0, 5, 2)

    def get_handler(self, server_addr, peer, path, options):
        return Handler(server_addr, peer, path, options, self._root)


def command(client, host, port, name, out, blksize=None, windowsize=None):
    if client == "curl":
        argv = ["curl", "-sS", "--max-time", "120", "-o", out]
        if blksize:
            argv += ["--tftp-blksize", str(blksize)]
        url_host = "[%s]" % host if ":" in host else host
        return argv + ["tftp://%s:%d/%s" % (url_host, port, name)]
    if client == "tftp-hpa":
        return ["tftp", "-6" if ":" in host else "-4", "-m", "binary", host, str(port),
                "-c", "get", name, out]
    if client == "atftp":
        argv = ["atftp", "--get", "-r", name, "-l", out]
        if blksize:
            argv += ["--option", "blksize %d" % blksize]
        if windowsize:
            argv += ["--option", "windowsize %d" % windowsize]
        return argv + ["--option", "tsize 0", host, str(port)]
    argv = ["busybox", "tftp", "-g", "-r", name, "-l", out]
    if blksize:
        argv += ["-b", str(blksize)]
    return argv + [host, str(port)]


CASES = [
    ("curl", None, None),
    ("curl", 1428, None),
    ("tftp-hpa", None, None),
    ("atftp", 1428, 16),
    ("atftp", 512, 16),
    ("busybox", 1024, None),
]


@pytest.fixture(scope="module")
def root():
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "kernel"), "wb") as f:
            f.write(os.urandom(1024 * 1024 + 17))
        yield d


@pytest.mark.parametrize("client,blksize,windowsize", CASES)
@pytest.mark.parametrize("source", ["generated", "chunked"])
def test_real_clients_download_byte_for_byte(serve, root, client, blksize, windowsize, source):
    server = Server("::", root)
    size = 1024 * 1024 + 333
    name = "gen/%d/%s" % (size, client) if source == "generated" else "kernel"
    if source == "generated":
        expected = expected_generated(name, size)
    else:
        with open(os.path.join(root, "kernel"), "rb") as f:
            expected = f.read()
    with serve(server) as port, tempfile.TemporaryDirectory() as out_dir:
        out = os.path.join(out_dir, "out")
        host = "::1" if client == "tftp-hpa" else "127.0.0.1"
        result = subprocess.run(
            command(client, host, port, name, out, blksize, windowsize),
            capture_output=True, timeout=180,
            # The clients are not ours: no sanitizer runtime preloaded (run_python.sh).
            env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"},
        )
        assert result.returncode == 0, result.stderr
        with open(out, "rb") as f:
            got = f.read()
        assert len(got) == len(expected)
        assert got == expected
