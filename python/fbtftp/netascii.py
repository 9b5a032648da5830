"""fbtftp.netascii: the tftpd package's NetasciiReader."""

from tftpd.netascii import NetasciiReader

__all__ = ["NetasciiReader"]
