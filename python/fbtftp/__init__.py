"""fbtftp's API on the tftpd engine: the tftpd package under fbtftp's names,
so that `from fbtftp.base_server import BaseServer` keeps working."""

from tftpd import constants
from tftpd.base_handler import BaseHandler, ResponseData, StringResponseData
from tftpd.base_server import BaseServer
from tftpd.stats import ServerStats, SessionStats

__all__ = ["BaseHandler", "BaseServer", "ResponseData", "SessionStats"]
