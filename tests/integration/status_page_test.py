"""The status page during a storm, in headless Chromium.

200 clients, each from a loopback address of its own, download the same
256 KiB file at blksize 1428 and stop acknowledging at a block of their own,
so that 200 transfers are in progress at known positions. Then:
/transfers (JSON) must list exactly those transfers at exactly those
positions; Chromium renders / with a row and a drawn progress bar for each
(a screenshot, kept in the test's outputs, and the DOM it rendered); and the
clients finish, every byte compared, and the page's last failures stay
empty.
"""
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib

TFTPD = "server/tftpd"
CLIENTS = 200
BLKSIZE = 1428
SIZE = 256 * 1024
BAR_RGB = (0x3B, 0x7D, 0xD8)  # The progress bar's colour (status_page.cc).


def content():
    return bytes((i * 7 + i // 251) % 256 for i in range(SIZE))


class Server:
    """tftpd with its log read as it comes (no waiting on time)."""

    def __init__(self, root):
        self.process = subprocess.Popen(
            [TFTPD, "--root", root, "--address=127.0.0.1", "--port=0",
             "--metrics_address=127.0.0.1:0", "--threads=2",
             # Clients pause mid-transfer while the page is looked at.
             "--timeout=5", "--max_timeout=10", "--retries=10"],
            stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.changed = threading.Condition()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.process.stderr:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.lines.append(None)  # The log ended.
            self.changed.notify_all()

    def wait_for(self, predicate, what, timeout=60):
        with self.changed:
            ok = self.changed.wait_for(
                lambda: predicate(self.lines) or None in self.lines, timeout)
            if not ok or not predicate(self.lines):
                raise AssertionError("tftpd: no %s; log:\n%s" % (
                    what, "".join(l for l in self.lines if l)))
            return list(self.lines)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def first_match(pattern):
    def find(lines):
        for line in lines:
            if line and re.search(pattern, line):
                return re.search(pattern, line)
        return None
    return find


class Client:
    def __init__(self, i, port, data):
        self.i = i
        self.data = data
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.1.%d" % (i + 1), 0))
        self.sock.settimeout(20)
        self.address = "127.0.1.%d:%d" % (i + 1, self.sock.getsockname()[1])
        self.server = ("127.0.0.1", port)
        self.received = bytearray()
        self.acked = 0  # The last block acknowledged.
        # Where it pauses: blocks 1..pause acknowledged.
        self.pause = 1 + (i * 37) % 150

    def request(self):
        rrq = b"\x00\x01storm.bin\x00octet\x00blksize\x00%d\x00" % BLKSIZE
        self.sock.sendto(rrq, self.server)
        packet, tid = self.sock.recvfrom(70000)
        assert packet[:2] == b"\x00\x06", packet  # OACK
        self.server = tid

    def ack(self, block):
        self.sock.sendto(struct.pack("!HH", 4, block), self.server)
        self.acked = block

    def next_data(self):
        """The next block in order (repeats of earlier ones are skipped)."""
        while True:
            packet, source = self.sock.recvfrom(70000)
            assert source == self.server, (source, self.server)
            opcode, block = struct.unpack("!HH", packet[:4])
            assert opcode == 3, packet
            if block == self.acked + 1:
                self.received += packet[4:]
                return len(packet) - 4

    def run_to_pause(self):
        self.request()
        self.ack(0)
        while True:
            self.next_data()
            if self.acked + 1 == self.pause:
                self.ack(self.pause)
                return
            self.ack(self.acked + 1)

    def finish(self):
        while True:
            n = self.next_data()
            self.ack(self.acked + 1)
            if n < BLKSIZE:
                break
        self.sock.close()
        assert bytes(self.received) == self.data, "client %d: bytes differ" % self.i


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def chromium(args):
    profile = tempfile.mkdtemp()
    command = ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", "--hide-scrollbars",
               "--user-data-dir=" + profile] + args
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=120, env=dict(os.environ, HOME=profile))
    assert result.returncode == 0, result.stderr
    return result.stdout


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat = 8, b""
    while at < len(data):
        length, kind = struct.unpack("!I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack("!IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    assert depth == 8 and color in (2, 6), (depth, color)
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = previous[x]
            c = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else
                                      b if pb <= pc else c)) & 255
        rows.append(line)
        previous = line
    return width, height, rows, channels


def main():
    out_dir = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR") or tempfile.mkdtemp()
    data = content()
    root = tempfile.mkdtemp()
    os.chmod(root, 0o755)
    with open(os.path.join(root, "storm.bin"), "wb") as f:
        f.write(data)
    os.chmod(os.path.join(root, "storm.bin"), 0o644)

    server = Server(root)
    port = int(server.wait_for(first_match(r"on 127\.0\.0\.1:(\d+) "),
                               "serving line")[0].split("127.0.0.1:")[1].split()[0])
    page = first_match(r"status page at (http://\S+)")(
        server.wait_for(first_match(r"status page at http://"), "status page"))
    base = page.group(1).rstrip("/")

    clients = [Client(i, port, data) for i in range(CLIENTS)]
    for c in clients:
        c.run_to_pause()

    # The JSON: exactly the transfers started, each where its client paused.
    status = json.loads(fetch(base + "/transfers"))
    assert status["transfers_total"] == CLIENTS, status["transfers_total"]
    rows = {t["client"]: t for t in status["transfers"]}
    for c in clients:
        row = rows[c.address]
        assert row["file"] == "storm.bin" and row["phase"] == "sending", row
        assert row["answered"] and not row["upload"], row
        assert row["bytes"] == c.pause * BLKSIZE, (row, c.pause)
        assert row["size"] == SIZE and row["blksize"] == BLKSIZE, row
    assert sum(s["transfers_active"] for s in status["shards"]) == CLIENTS
    assert status["failures"] == [], status["failures"]

    # The page as a browser draws it.
    url = base + "/"
    dom = chromium(["--dump-dom", url])
    drawn = dom.count('<tr class="transfer">')
    assert drawn == CLIENTS, drawn
    for c in clients[:5]:
        assert ">%s<" % c.address in dom, c.address
    screenshot = os.path.join(out_dir, "status_page.png")
    chromium(["--window-size=1400,1600", "--screenshot=" + screenshot, url])
    width, height, pixels, channels = png_pixels(screenshot)
    bar_rows = 0
    for line in pixels:
        if any(tuple(line[x:x + 3]) == BAR_RGB
               for x in range(0, len(line), channels)):
            bar_rows += 1
    # Each transfer's bar is a band of pixel rows; a screen of them shows
    # dozens of bands.
    assert bar_rows > 200, bar_rows
    print("screenshot %s: %dx%d, %d pixel rows with progress bars; "
          "%d transfers in the JSON, %d rows in the page" %
          (screenshot, width, height, bar_rows, len(status["transfers"]), drawn))

    for c in clients:
        c.finish()
    server.wait_for(lambda lines: sum(
        1 for l in lines if l and "file=storm.bin outcome=completed" in l) == CLIENTS,
        "completed line for every transfer")
    # The records reach the page's memory through the statistics thread,
    # just after the log lines: fetch until the last has arrived.
    deadline = time.monotonic() + 30
    while True:
        status = json.loads(fetch(base + "/transfers"))
        if status["files"] == [{"file": "storm.bin", "requests": CLIENTS}]:
            break
        assert time.monotonic() < deadline, status["files"]
    assert status["failures"] == [], status["failures"]
    assert status["transfers_total"] == 0, status["transfers_total"]
    assert server.stop() == 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
