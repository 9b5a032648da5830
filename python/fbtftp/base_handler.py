"""fbtftp.base_handler: the tftpd package's handler classes."""

from tftpd.base_handler import BaseHandler, ResponseData, StringResponseData
from tftpd.stats import SessionStats

__all__ = ["BaseHandler", "ResponseData", "SessionStats", "StringResponseData"]
