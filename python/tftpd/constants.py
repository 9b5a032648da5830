"""TFTP constants, named as fbtftp names them (fbtftp.constants)."""

# Opcodes (RFC 1350, RFC 2347).
OPCODE_RRQ = 1
OPCODE_WRQ = 2
OPCODE_DATA = 3
OPCODE_ACK = 4
OPCODE_ERROR = 5
OPCODE_OACK = 6

# Transfer modes.
MODE_NETASCII = "netascii"
MODE_BINARY = "octet"

# ERROR codes (RFC 1350, RFC 2347).
ERR_UNDEFINED = 0
ERR_FILE_NOT_FOUND = 1
ERR_ACCESS_VIOLATION = 2
ERR_DISK_FULL = 3
ERR_ILLEGAL_OPERATION = 4
ERR_UNKNOWN_TRANSFER_ID = 5
ERR_FILE_EXISTS = 6
ERR_NO_SUCH_USER = 7
ERR_INVALID_OPTIONS = 8

# Block numbers are 16 bits on the wire; the engine rolls them over.
MAX_BLOCK_NUMBER = 65535

# RFC 1350's block size.
DEFAULT_BLKSIZE = 512

# How often the server-statistics callback runs, in seconds.
DATAPOINTS_INTERVAL_SECONDS = 60
