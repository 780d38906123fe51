"""File intake: SFTP and FTP(S) servers, the spool, and polling customers' servers.

Thin protocol adapters over one protocol-agnostic core.
"""
