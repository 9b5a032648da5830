"""A test's server that records what it saw: the requests handed to
get_handler and the sessions' statistics, under one lock whose condition
wakes wait(); a test keeps its own counts under the same lock."""

import threading

from fbtftp.base_server import BaseServer


class RecordingServer(BaseServer):
    def __init__(self, *args, **kwargs):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.requests = []  # (server_addr, peer, path, options)
        self.sessions = []
        super().__init__(*args, **kwargs)

    def record_request(self, server_addr, peer, path, options):
        with self.lock:
            self.requests.append((server_addr, peer, path, dict(options)))
            self.changed.notify_all()

    def session_ended(self, stats):
        """The handlers' stats callback."""
        with self.lock:
            self.sessions.append(stats)
            self.changed.notify_all()

    def wait(self, condition):
        """Until condition() holds, under the lock; a minute is a failure."""
        with self.lock:
            assert self.changed.wait_for(condition, 60)
