"""An fbtftp program as they are written: run() until Ctrl-C, then close()."""

import sys

from fbtftp import BaseHandler, BaseServer
from fbtftp.base_handler import StringResponseData


class Handler(BaseHandler):
    def get_response_data(self):
        return StringResponseData(self._path)


class Server(BaseServer):
    def get_handler(self, server_addr, peer, path, options):
        return Handler(server_addr, peer, path, options, lambda stats: None)


server = Server("127.0.0.1", 0, 3, 2)
print(server._listener.getsockname()[1], flush=True)
try:
    server.run()
except KeyboardInterrupt:
    server.close()
    print("stopped", flush=True)
