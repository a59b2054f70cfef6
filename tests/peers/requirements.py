"""The project rule for tests that need a real peer or root.

Under CI (`CI=true`) a missing requirement FAILS the test, so CI can never go
green by skipping; on a developer machine it skips and says why.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest


def under_ci() -> bool:
    """True when the environment says this is a CI run (`CI=true`)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_peer(reason: str) -> NoReturn:
    """Fail (under CI) or skip (elsewhere) the current test, giving `reason`."""
    if under_ci():
        pytest.fail(f"required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def need(condition: object, reason: str) -> None:
    """`require_peer(reason)` unless `condition` holds."""
    if not condition:
        require_peer(reason)


def need_root() -> None:
    need(os.geteuid() == 0, "needs root (network and mount namespaces)")


def need_executable(path: str) -> str:
    """The absolute path of an executable (a path or a name on PATH); else skip/fail."""
    found = path if os.access(path, os.X_OK) else shutil.which(path)
    need(found, f"needs {path}")
    assert found is not None
    return found
