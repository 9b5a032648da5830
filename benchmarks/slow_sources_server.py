"""The package serving slow and fast sources side by side, on
127.0.0.1:69 (run by benchmarks/slow_sources.py; stops on SIGTERM).

"slow*": an origin taking 0.2 s per read (a slow HTTP origin), 1 MiB.
Any other name: 1 MiB read from memory.
slow_sources_server.py [--source_threads N]"""

import argparse
import signal
import time

from fbtftp import BaseHandler, BaseServer, ResponseData

SIZE = 1 << 20


class Sized(ResponseData):
    def __init__(self, content, delay):
        self._content = content
        self._at = 0
        self._delay = delay

    def read(self, n):
        if self._delay:
            time.sleep(self._delay)
        chunk = self._content[self._at:self._at + n]
        self._at += len(chunk)
        return chunk

    def size(self):
        return len(self._content)

    def close(self):
        pass


class Handler(BaseHandler):
    def __init__(self, server_addr, peer, path, options, content):
        self._content = content
        super().__init__(server_addr, peer, path, options, lambda stats: None)

    def get_response_data(self):
        return Sized(self._content, 0.2 if self._path.startswith("slow") else 0)


class Server(BaseServer):
    def __init__(self, content, **kwargs):
        self._content = content
        super().__init__("127.0.0.1", 69, 5, 2, max_transfers=4000, **kwargs)

    def get_handler(self, server_addr, peer, path, options):
        return Handler(server_addr, peer, path, options, self._content)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source_threads", type=int, default=None)
    args = parser.parse_args()
    kwargs = {}
    if args.source_threads:
        kwargs["source_threads"] = args.source_threads
    server = Server(memoryview(bytes(range(256)) * (SIZE // 256)), **kwargs)
    signal.signal(signal.SIGTERM, lambda *_: server.close())
    server.run()


if __name__ == "__main__":
    main()
