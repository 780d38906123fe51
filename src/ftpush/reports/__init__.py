"""Report builders, file naming, xlsx/csv writers, delivery."""

from ftpush.reports.builders import BUILDERS, ReportFile, build
from ftpush.reports.windows import Window
from ftpush.reports.writers import DELIMITERS, Written, escape, write_csv, write_xlsx

__all__ = [
    "BUILDERS",
    "DELIMITERS",
    "ReportFile",
    "Window",
    "Written",
    "build",
    "escape",
    "write_csv",
    "write_xlsx",
]
