"""docs/reports.md documents every report's file name and every header column."""

from __future__ import annotations

from pathlib import Path

from ftpush.models import ReportName
from ftpush.reports import BUILDERS
from ftpush.reports.builders import headers

DOC = Path(__file__).resolve().parents[3] / "docs" / "reports.md"


def test_every_report_and_column_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert set(BUILDERS) == set(ReportName)
    for report, header in headers().items():
        assert f"## {report.value}" in text or f"`{report.value}`" in text
        for column in header:
            assert column in text, (report, column)
    for stem in ("_PUSH_REPORTS_", "_{msgID}_PUSH_REPORTS_", "_AUTOMATED_PUSH_REPORTS_",
                 "_TRANSACTIONAL_PUSH_REPORTS_", "_EVENTS_", "_INSTALLATIONS_",
                 "_APP_TRACKING_"):  # fmt: skip
        assert f"{{appkey}}{stem}" in text
