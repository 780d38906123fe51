"""Rules of the code base that a reviewer should not have to check by eye."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "ftpush"


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def test_only_config_reads_the_environment() -> None:
    offenders = []
    for path in _modules():
        if path.name == "config.py" and path.parent == SRC:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}:
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not offenders, f"os.environ read outside config.py: {offenders}"


IMPORT_PROBE = """
import importlib, pkgutil, sys
import sqlalchemy, fastapi

def refuse(*args, **kwargs):
    raise SystemExit("built at import time: " + repr(args)[:80])

sqlalchemy.create_engine = refuse
import sqlalchemy.engine
sqlalchemy.engine.create_engine = refuse
fastapi.FastAPI.__init__ = refuse

import ftpush
names = [m.name for m in pkgutil.walk_packages(ftpush.__path__, "ftpush.")
         if ".migrations" not in m.name and not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_nothing_builds_an_engine_or_app_at_import_time() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert int(result.stdout.strip()) > 20


def test_modules_have_docstrings() -> None:
    missing = [
        str(p.relative_to(SRC))
        for p in _modules()
        if p.stat().st_size and ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None
    ]
    assert not missing, f"modules without a docstring: {missing}"
