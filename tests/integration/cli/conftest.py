"""Run the real ``ftpush`` entry point in-process, with its exit code and both streams."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ftpush.cli import main


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Ftpush:
    """``ftpush --data-dir <tmp> ...`` as a function."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def __call__(self, *args: str, input: str | None = None, ok: bool = True) -> Run:
        runner = CliRunner()
        with runner.isolation(input=input) as (out, err, _):
            code = main(["--data-dir", str(self.data_dir), *args])
        run = Run(code, out.getvalue().decode(), err.getvalue().decode())
        if ok:
            assert code == 0, f"ftpush {' '.join(args)} -> {code}\n{run.out}\n{run.err}"
        return run

    def fails(self, *args: str, input: str | None = None) -> Run:
        run = self(*args, input=input, ok=False)
        assert run.code != 0, run.out
        assert "Traceback" not in run.err
        return run


@pytest.fixture
def ftpush(tmp_path: Path) -> Ftpush:
    return Ftpush(tmp_path / "data")
