"""A small TFTP client for the package's tests: reads a file with any
options, in lock-step or windows, and can stop answering or send ERROR."""

import socket
import struct


class TftpError(Exception):
    def __init__(self, code, message):
        super().__init__("ERROR %d %s" % (code, message))
        self.code = code
        self.message = message


def request(name, mode="octet", options=()):
    packet = struct.pack("!H", 1) + name.encode() + b"\0" + mode.encode() + b"\0"
    for key, value in options:
        packet += key.encode() + b"\0" + str(value).encode() + b"\0"
    return packet


def parse_oack(packet):
    fields = packet[2:].split(b"\0")[:-1]
    return {fields[i].decode(): fields[i + 1].decode() for i in range(0, len(fields), 2)}


class Client:
    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.server = (host, port)

    def close(self):
        self.sock.close()

    def send_request(self, name, mode="octet", options=()):
        self.sock.sendto(request(name, mode, options), self.server)

    def receive(self):
        """The next datagram and where it came from; TftpError for ERROR."""
        packet, sender = self.sock.recvfrom(70000)
        opcode = struct.unpack("!H", packet[:2])[0]
        if opcode == 5:
            code = struct.unpack("!H", packet[2:4])[0]
            raise TftpError(code, packet[4:-1].decode("latin-1"))
        return packet, sender

    def read(self, name, mode="octet", options=(), stop_after=None):
        """The file's bytes and the OACK's options ({} without options).
        stop_after: stop acknowledging after that many blocks."""
        self.send_request(name, mode, options)
        blksize = int(dict(options).get("blksize", 512))
        packet, sender = self.receive()
        oack = {}
        if struct.unpack("!H", packet[:2])[0] == 6:
            oack = parse_oack(packet)
            blksize = int(oack.get("blksize", 512))
            self.sock.sendto(struct.pack("!HH", 4, 0), sender)
            packet, sender = self.receive()
        self.transfer_port = sender  # Where its ACKs (or an ERROR) go.
        content = bytearray()
        expected = 1
        while True:
            self.transfer_port = sender
            opcode, block = struct.unpack("!HH", packet[:4])
            assert opcode == 3, opcode
            if block == expected & 0xFFFF:
                content += packet[4:]
                if stop_after is not None and expected >= stop_after:
                    self.sock.sendto(struct.pack("!HH", 4, block), sender)
                    return bytes(content), oack
                expected += 1
                last = len(packet) - 4 < blksize
                self.sock.sendto(struct.pack("!HH", 4, block), sender)
                if last:
                    return bytes(content), oack
            packet, sender = self.receive()
