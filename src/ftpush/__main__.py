"""``python -m ftpush`` runs the command line."""

from ftpush.cli import run

run()
