"""Every formats test runs twice: with the C accelerator and with pure Python (decision 0105).

The switch is module-scoped (Hypothesis refuses function-scoped fixtures around
``@given`` tests), so pytest runs each module once per implementation. Where the
extension is not built the ``c`` runs are skipped, not failed: it is optional.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ftpush.formats import _accel


@pytest.fixture(scope="module", autouse=True, params=["c", "python"])
def implementation(request: pytest.FixtureRequest) -> Iterator[str]:
    """The implementation this module's tests run against: ``"c"`` or ``"python"``."""
    if request.param == "c" and _accel.compiled is None:
        pytest.skip("the C accelerator ftpush.formats._speedups is not built")
    before = _accel.use_compiled(request.param == "c")
    yield request.param
    _accel.use_compiled(before)
