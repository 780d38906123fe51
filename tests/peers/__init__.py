"""Real servers (OpenSSH sshd, vsftpd) started on loopback for tests and benchmarks."""
