"""Process-wide counters for ``/metrics`` (Prometheus), fed where things happen.

Only what the database cannot tell afterwards lives here — failed logins, bans, files
handed over by each protocol — counted in the process that serves the protocols (the
one ``ftpush serve`` runs, whose web app exposes them). Everything the ledger knows
(files by outcome, rows, messages by outcome and provider, export deliveries) is read
from the database at scrape time instead (:mod:`ftpush.web.metrics`), so it is right
across every ``serve`` and ``worker`` process.
"""

from __future__ import annotations

from prometheus_client import Counter

LOGIN_FAILURES = Counter(
    "ftpush_login_failures", "Logins refused (SFTP and FTP), by reason kind", ["kind"]
)
BANS = Counter("ftpush_bans", "Addresses banned after repeated failed logins")
FILES_RECEIVED = Counter(
    "ftpush_files_received", "Complete files handed to the spool, by source", ["source"]
)
