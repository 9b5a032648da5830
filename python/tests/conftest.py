"""Fixtures: a server of the package running on a thread for one test."""

import contextlib
import threading

import pytest

from tftpd.base_server import engine_of


@contextlib.contextmanager
def serving(server):
    """Runs server.run() on a thread; yields the port; stops it after."""
    failure = []

    def run():
        try:
            server.run()
        except BaseException as e:  # reported in the test's thread
            failure.append(e)

    thread = threading.Thread(target=run)
    port = server._listener.getsockname()[1]
    thread.start()
    try:
        while not engine_of(server).serving.wait(0.1):
            assert thread.is_alive(), failure
        yield port
    finally:
        server.close()
        thread.join(30)
        assert not thread.is_alive(), "run() did not return after close()"
        if failure:
            raise failure[0]


@pytest.fixture
def serve():
    return serving
