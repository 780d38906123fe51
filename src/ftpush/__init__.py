"""ftpush: a self-hosted SFTP/FTPS file gateway for a push-notification platform."""

__version__ = "0.1.0"
