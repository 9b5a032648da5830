"""fbtftp.base_server: the tftpd package's server classes."""

from tftpd.base_server import BaseServer
from tftpd.stats import ServerStats

__all__ = ["BaseServer", "ServerStats"]
