"""Where the shared sample files are: ``<repo root>/../shared/samples`` (CI copies them there)."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples"


def sample(*parts: str) -> Path:
    """Path of a sample file; skips the test when the shared folder is not there."""
    path = SAMPLES.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"sample {path} is not available")
    return path
