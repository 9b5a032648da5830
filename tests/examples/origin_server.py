#!/usr/bin/env python3
"""An HTTP origin for the http_origin_server tests, on loopback.

usage: origin_server.py DIR PORT_FILE
Serves DIR. /slow/NAME answers NAME after 2 s; /die/NAME announces NAME's
full length, sends a quarter and closes. Every GET is logged to stderr as
"GET <path>" so that tests can count origin fetches.
"""
import http.server
import os
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        sys.stderr.write("GET %s\n" % self.path)
        sys.stderr.flush()
        path = self.path
        mode = ""
        for prefix in ("/slow/", "/die/"):
            if path.startswith(prefix):
                mode = prefix.strip("/")
                path = "/" + path[len(prefix):]
        file = os.path.join(self.server.root, path.lstrip("/"))
        if not os.path.isfile(file):
            self.send_error(404)
            return
        with open(file, "rb") as f:
            body = f.read()
        if mode == "slow":
            time.sleep(2)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "die":
            self.wfile.write(body[: len(body) // 4])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.root = sys.argv[1]
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, sys.argv[2])
    server.serve_forever()


if __name__ == "__main__":
    main()
