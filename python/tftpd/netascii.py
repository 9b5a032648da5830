"""NetasciiReader, as fbtftp names it: a response wrapped so that what is
read from it is netascii (RFC 764: each LF as CR LF, each CR as CR NUL).

The engine encodes netascii itself for clients that ask that mode; this is
for programs written for fbtftp that wrap their responses themselves."""

import io


def _encode(raw):
    # CR first: the CRs that the LFs bring must stay as they are.
    return bytes(raw).replace(b"\r", b"\r\0").replace(b"\n", b"\r\n")


class NetasciiReader:
    def __init__(self, reader):
        self._reader = reader
        self._pending = b""  # Encoded, not yet read.
        self._encoded = None  # The rest, whole, once size() was asked.

    def read(self, size):
        """Up to `size` bytes of the encoding; fewer only at the end."""
        if self._encoded is not None:
            return self._encoded.read(size)
        while len(self._pending) < size:
            raw = self._reader.read(size - len(self._pending))
            if not raw:
                break
            self._pending += _encode(raw)
        out, self._pending = self._pending[:size], self._pending[size:]
        return out

    def size(self):
        """The encoding's size from here on. Netascii's size is known only
        once every byte was seen: the rest is read and held in memory."""
        if self._encoded is None:
            chunks = [self._pending]
            while True:
                raw = self._reader.read(65536)
                if not raw:
                    break
                chunks.append(_encode(raw))
            self._pending = b""
            self._encoded = io.BytesIO(b"".join(chunks))
        return len(self._encoded.getbuffer()) - self._encoded.tell()

    def close(self):
        self._reader.close()
