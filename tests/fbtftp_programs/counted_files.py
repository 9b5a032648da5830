#!/usr/bin/env python3
"""A file server that counts: each request is counted by kind in the
server's statistics (fbtftp's counters), and the server-stats callback
writes the counters of each interval, with the engine's, as a JSON line.

counted_files.py --port PORT --root DIR --stats FILE --counters FILE"""

import argparse
import json
import logging
import os
import time

from fbtftp.base_handler import BaseHandler, ResponseData
from fbtftp.base_server import BaseServer


class FileData(ResponseData):
    def __init__(self, path):
        self._f = open(path, "rb")

    def read(self, n):
        return self._f.read(n)

    def size(self):
        return os.fstat(self._f.fileno()).st_size

    def close(self):
        self._f.close()


class Handler(BaseHandler):
    def __init__(self, server_addr, peer, path, options, root, stats_callback):
        self._root = root
        super().__init__(server_addr, peer, path, options, stats_callback)

    def get_response_data(self):
        return FileData(os.path.join(self._root, os.path.basename(self._path)))


class CountingServer(BaseServer):
    def __init__(self, args):
        self._args = args
        self._started = time.time()
        super().__init__(args.address, args.port, 3, 2, self.print_counters, args.interval)

    def get_handler(self, server_addr, peer, path, options):
        kind = os.path.splitext(path)[1].lstrip(".") or "bare"
        self._server_stats.increment_counter("asked_for_" + kind)
        if options.get("blksize"):
            self._server_stats.increment_counter("asked_blksize")
        return Handler(server_addr, peer, path, options, self._args.root, self.record_session)

    def record_session(self, stats):
        with open(self._args.stats, "a") as f:
            f.write(json.dumps({"file_path": stats.file_path, "error": stats.error,
                                "bytes_sent": stats.bytes_sent,
                                "packets_acked": stats.packets_acked}) + "\n")

    def print_counters(self, stats):
        counters = stats.get_and_reset_all_counters()
        with open(self._args.counters, "a") as f:
            f.write(json.dumps(dict(counters)) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=69)
    parser.add_argument("--root", required=True)
    parser.add_argument("--stats", required=True)
    parser.add_argument("--counters", required=True)
    parser.add_argument("--interval", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    server = CountingServer(args)
    try:
        server.run()
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    main()
