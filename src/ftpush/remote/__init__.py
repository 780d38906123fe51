"""Clients for customers' servers (SFTP, FTPS, FTP) behind one protocol."""
