#!/usr/bin/env python3
"""Files streamed from an HTTP origin as clients read them: the case fbtftp
was written for. The handler keeps its own settings object and logger; the
origin's chunks are larger than TFTP's blocks and are cut to what each read
asks; size() is the origin's Content-Length. A 404 is TFTP's "file not
found"; any other failure of the origin refuses the request with its words.

http_origin.py --port PORT --origin URL --stats FILE"""

import argparse
import json
import logging
import urllib.error
import urllib.parse
import urllib.request

from fbtftp.base_handler import BaseHandler, ResponseData
from fbtftp.base_server import BaseServer

log = logging.getLogger("http-origin")


class Settings:
    def __init__(self, args):
        self.origin = args.origin.rstrip("/")
        self.chunk = args.chunk
        self.origin_timeout = args.origin_timeout
        self.stats = args.stats


class HttpResponseData(ResponseData):
    def __init__(self, url, settings):
        self._settings = settings
        self._response = urllib.request.urlopen(url, timeout=settings.origin_timeout)
        length = self._response.headers.get("Content-Length")
        self._size = int(length) if length is not None else None
        self._pending = b""

    def read(self, n):
        while len(self._pending) < n:
            chunk = self._response.read(self._settings.chunk)
            if not chunk:
                break
            self._pending += chunk
        data, self._pending = self._pending[:n], self._pending[n:]
        return data

    def size(self):
        return self._size

    def close(self):
        self._response.close()


class HttpHandler(BaseHandler):
    def __init__(self, server_addr, peer, path, options, settings, stats_callback):
        self._settings = settings
        self._logger = log
        super().__init__(server_addr, peer, path, options, stats_callback)

    def get_response_data(self):
        url = "%s/%s" % (self._settings.origin, urllib.parse.quote(self._path.lstrip("/")))
        self._logger.info("%s asks for %s", self._peer[0], url)
        try:
            return HttpResponseData(url, self._settings)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                raise FileNotFoundError("%s: not at the origin" % self._path)
            raise RuntimeError("origin answered %d for %s" % (e.code, self._path))


class HttpServer(BaseServer):
    def __init__(self, address, port, retries, timeout, settings):
        self._settings = settings
        super().__init__(address, port, retries, timeout)

    def get_handler(self, server_addr, peer, path, options):
        return HttpHandler(server_addr, peer, path, options, self._settings, self._on_session)

    def _on_session(self, stats):
        with open(self._settings.stats, "a") as f:
            f.write(
                json.dumps(
                    {
                        "file_path": stats.file_path,
                        "error": stats.error,
                        "options_in": dict(getattr(stats, "options_in", {})),
                        "options": dict(stats.options),
                        "blksize": stats.blksize,
                        "packets_sent": stats.packets_sent,
                        "packets_acked": stats.packets_acked,
                        "bytes_sent": stats.bytes_sent,
                        "retransmits": stats.retransmits,
                    }
                )
                + "\n"
            )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=69)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--chunk", type=int, default=64 * 1024)
    parser.add_argument("--origin_timeout", type=float, default=10)
    parser.add_argument("--stats", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    server = HttpServer(args.address, args.port, 3, 2, Settings(args))
    try:
        server.run()
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    main()
