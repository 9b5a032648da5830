"""tftpd for Python: fbtftp's API (BaseServer, BaseHandler, ResponseData)
on the tftpd engine. `import fbtftp` gives the same classes, so fbtftp
programs run unchanged."""

from . import constants
from .base_handler import BaseHandler, ResponseData, StringResponseData
from .base_server import BaseServer
from .stats import ServerStats, SessionStats

__all__ = [
    "BaseHandler",
    "BaseServer",
    "ResponseData",
    "ServerStats",
    "SessionStats",
    "StringResponseData",
    "constants",
]
