"""fbtftp.constants: the tftpd package's constants."""

from tftpd.constants import *  # noqa: F401,F403
