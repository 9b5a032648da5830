"""A Python server whose every response is generated and distinct: the
request names a rotation, the response is the base bytes rotated by it.
storm_server.py BASE_FILE PORT_FILE: serves on 127.0.0.1, writes its port
into PORT_FILE, stops on SIGTERM or SIGINT."""

import os
import signal
import sys

from fbtftp import BaseHandler, BaseServer, ResponseData


class Rotated(ResponseData):
    def __init__(self, base, rotation):
        self._base = base
        self._at = rotation % len(base)
        self._left = len(base)

    def read(self, n):
        n = min(n, self._left)
        end = self._at + n
        if end <= len(self._base):
            chunk = self._base[self._at:end]
        else:
            chunk = bytes(self._base[self._at:]) + bytes(self._base[:end - len(self._base)])
        self._at = end % len(self._base)
        self._left -= n
        return chunk

    def size(self):
        return len(self._base)

    def close(self):
        pass


class Handler(BaseHandler):
    def __init__(self, server_addr, peer, path, options, base):
        self._base = base
        super().__init__(server_addr, peer, path, options, lambda stats: None)

    def get_response_data(self):
        return Rotated(self._base, int(self._path))


class Server(BaseServer):
    def __init__(self, base):
        self._base = base
        super().__init__("127.0.0.1", 0, 5, 1, max_transfers=4000)

    def get_handler(self, server_addr, peer, path, options):
        return Handler(server_addr, peer, path, options, self._base)


def main():
    with open(sys.argv[1], "rb") as f:
        base = memoryview(f.read())
    server = Server(base)
    signal.signal(signal.SIGTERM, lambda *_: server.close())
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(server._listener.getsockname()[1]))
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    try:
        server.run()
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    main()
