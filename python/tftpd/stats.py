"""Statistics handed to the program: one SessionStats per request its handler
served (or refused), and a ServerStats of counters every interval."""

import collections
import threading
import time

from . import constants


class SessionStats:
    """What happened in one session, given to the handler's stats callback
    when it ends. Attributes as fbtftp's: peer, server_addr, file_path,
    error ({} or {"error_code", "error_message"}), options (acknowledged),
    options_in (requested), options_acked, start_time, packets_sent,
    packets_acked, bytes_sent, retransmits, blksize; and windowsize,
    size_announced and size_read."""

    def __init__(self, server_addr, peer, file_path):
        self.peer = peer
        self.server_addr = server_addr
        self.file_path = file_path
        self.error = {}
        self.options = {}
        self.options_in = {}
        self.options_acked = {}
        self.start_time = time.time()
        self.packets_sent = 0
        self.packets_acked = 0
        self.bytes_sent = 0
        self.retransmits = 0
        self.blksize = constants.DEFAULT_BLKSIZE
        self.windowsize = 1
        # The package's: what size() announced (None: not asked, when the
        # client asked no tsize), and, for a completed session, the bytes
        # read() gave; they may differ, as fbtftp lets them.
        self.size_announced = None
        self.size_read = None
        self._duration = None

    def duration(self):
        """Seconds the session lasted (so far, before it ended)."""
        if self._duration is not None:
            return self._duration
        return time.time() - self.start_time


class ServerStats:
    """Counters over the server's life, with fbtftp's atomic get, set,
    increment and get-and-reset. The engine adds its own counters
    (requests_received, transfers_completed, bytes_sent, ...) every
    interval; `process_count` counts requests given to get_handler."""

    def __init__(self, server_addr=None, interval=None):
        self.server_addr = server_addr
        self.interval = interval
        self.start_time = time.time()
        self._counters = collections.Counter()
        self._counters_lock = threading.Lock()

    def get_all_counters(self):
        with self._counters_lock:
            return dict(self._counters)

    def get_and_reset_all_counters(self):
        with self._counters_lock:
            counters = dict(self._counters)
            self._counters.clear()
        return counters

    def get_counter(self, name):
        return self._counters[name]

    def set_counter(self, name, value):
        with self._counters_lock:
            self._counters[name] = value

    def increment_counter(self, name, increment=1):
        with self._counters_lock:
            self._counters[name] += increment

    def reset_counter(self, name):
        with self._counters_lock:
            self._counters[name] = 0

    def get_and_reset_counter(self, name):
        with self._counters_lock:
            value = self._counters[name]
            self._counters[name] = 0
            return value

    def reset_all_counters(self):
        with self._counters_lock:
            self._counters.clear()

    def duration(self):
        """Seconds since the server was made."""
        return time.time() - self.start_time
