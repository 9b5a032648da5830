"""fbtftp.netascii: a program's own netascii wrapper, as fbtftp names it
(before, `from fbtftp.netascii import NetasciiReader` failed at import)."""

import io

from fbtftp.base_handler import ResponseData, StringResponseData
from fbtftp.netascii import NetasciiReader


class Chunks(ResponseData):
    """Raw bytes, read at most `most` at a time: an encoding must not
    depend on where its source's reads end."""

    def __init__(self, raw, most):
        self._raw = io.BytesIO(raw)
        self._most = most
        self.closed = False

    def read(self, n):
        return self._raw.read(min(n, self._most))

    def size(self):
        return len(self._raw.getbuffer())

    def close(self):
        self.closed = True


def read_all(reader, block):
    out = b""
    while True:
        chunk = reader.read(block)
        out += chunk
        if len(chunk) < block:
            return out


def test_lf_and_cr_are_encoded():
    reader = NetasciiReader(StringResponseData("a\nb\rc\r\nd"))
    assert read_all(reader, 512) == b"a\r\nb\r\0c\r\0\r\nd"


def test_blocks_are_full_until_the_end_whatever_the_source_reads():
    raw = b"line\n" * 1000 + b"cr\r" * 333
    expected = raw.replace(b"\r", b"\r\0").replace(b"\n", b"\r\n")
    for most in (1, 7, 512, 100000):
        reader = NetasciiReader(Chunks(raw, most))
        blocks = []
        while True:
            blocks.append(reader.read(512))
            if len(blocks[-1]) < 512:
                break
        assert all(len(b) == 512 for b in blocks[:-1]), most
        assert b"".join(blocks) == expected, most


def test_size_is_the_encodings_and_reading_goes_on_after_it():
    source = Chunks(b"x\n" * 300, 64)
    reader = NetasciiReader(source)
    assert reader.size() == 900
    assert read_all(reader, 512) == b"x\r\n" * 300
    reader.close()
    assert source.closed
