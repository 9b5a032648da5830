#!/usr/bin/env python3
"""Per-machine boot configs, made on request: a program of the shape most
fbtftp users write. An inventory (JSON: client address -> machine) decides
what each machine boots; `boot.ipxe` is rendered for the asking machine,
anything else is served from the boot root. Its server keeps its own
settings object, set before BaseServer.__init__.

boot_config.py --port PORT --root DIR --inventory FILE --stats FILE"""

import argparse
import json
import logging
import os
import string

from fbtftp.base_handler import BaseHandler, ResponseData, StringResponseData
from fbtftp.base_server import BaseServer

SCRIPT = string.Template(
    "#!ipxe\n"
    "kernel tftp://${next_server}/${kernel} ip=${ip} hostname=${hostname} ${cmdline}\n"
    "initrd tftp://${next_server}/${initrd}\n"
    "boot\n"
)


class FileResponseData(ResponseData):
    def __init__(self, path):
        self._file = open(path, "rb")
        self._size = os.fstat(self._file.fileno()).st_size

    def read(self, n):
        return self._file.read(n)

    def size(self):
        return self._size

    def close(self):
        self._file.close()


class BootHandler(BaseHandler):
    def __init__(self, server_addr, peer, path, options, settings, inventory, stats_callback):
        self._settings = settings
        self._inventory = inventory
        super().__init__(server_addr, peer, path, options, stats_callback)

    def get_response_data(self):
        if self._path == "boot.ipxe":
            machine = self._inventory.get(self._peer[0])
            if machine is None:
                raise FileNotFoundError("no machine known at %s" % self._peer[0])
            return StringResponseData(
                SCRIPT.substitute(next_server=self._settings.address, ip=self._peer[0], **machine)
            )
        path = os.path.normpath(os.path.join(self._settings.root, self._path.lstrip("/")))
        if not path.startswith(self._settings.root + os.sep):
            raise PermissionError("outside the boot root: %s" % self._path)
        return FileResponseData(path)


class BootServer(BaseServer):
    def __init__(self, settings):
        self._settings = settings
        with open(settings.inventory) as f:
            self._inventory = json.load(f)
        super().__init__(
            settings.address,
            settings.port,
            settings.retries,
            settings.timeout,
            self._on_server_stats,
            settings.stats_interval,
        )

    def get_handler(self, server_addr, peer, path, options):
        return BootHandler(
            server_addr, peer, path, options, self._settings, self._inventory, self._on_session
        )

    def _on_session(self, stats):
        with open(self._settings.stats, "a") as f:
            f.write(json.dumps(session_record(stats)) + "\n")

    def _on_server_stats(self, stats):
        logging.info("served %d requests", stats.get_counter("process_count"))


def session_record(stats):
    return {
        "file_path": stats.file_path,
        "error": stats.error,
        # fbtftp sets options_in only once it parsed the request's options
        # (not for a request refused first).
        "options_in": dict(getattr(stats, "options_in", {})),
        "options": dict(stats.options),
        "blksize": stats.blksize,
        "packets_sent": stats.packets_sent,
        "packets_acked": stats.packets_acked,
        "bytes_sent": stats.bytes_sent,
        "retransmits": stats.retransmits,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=69)
    parser.add_argument("--root", required=True)
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--stats", required=True)
    parser.add_argument("--retries", type=int, default=3)
    parser.add_argument("--timeout", type=int, default=2)
    parser.add_argument("--stats_interval", type=int, default=60)
    settings = parser.parse_args()
    settings.root = os.path.realpath(settings.root)
    logging.basicConfig(level=logging.INFO)
    server = BootServer(settings)
    try:
        server.run()
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    main()
