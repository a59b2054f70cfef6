"""A program under a real pseudo-terminal (pexpect), as a person types at it.

`Terminal` keeps everything the program wrote (`transcript`) and reads up
to the next prompt after each line, so a test can ask what one command
printed. Environments are private: HOME, XDG dirs and LC_ALL=C.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from types import TracebackType
from typing import Self

import pexpect

#: what a terminal line discipline turns our "\n" into, plus readline's redraws
_ERASED = re.compile(r"[^\r\n]*\r\x1b\[K")
_NOISE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\x07|\r")
POLKIT = ("Authorization not available. Check if polkit service is running or see debug "
          "message for more information.\r\n")


def private_env(home: Path, *, term: str = "dumb", path: str | None = None) -> dict[str, str]:
    """An environment whose HOME and XDG directories are under ``home``."""
    env = {**os.environ, "HOME": str(home), "XDG_STATE_HOME": str(home / "state"),
           "XDG_CACHE_HOME": str(home / "cache"), "XDG_CONFIG_HOME": str(home / "config"),
           "LC_ALL": "C", "LANG": "C", "TERM": term, "INPUTRC": "/dev/null"}
    env.pop("LIBVIRT_DEFAULT_URI", None)
    if path is not None:
        env["PATH"] = f"{path}:{env['PATH']}"
    return env


class Terminal:
    """``program args`` on a pty of 200 columns."""

    def __init__(self, program: str, *args: str, env: dict[str, str], prompt: str,
                 timeout: float = 30.0) -> None:
        self.prompt = prompt
        self._log = io.StringIO()
        self.child = pexpect.spawn(program, list(args), env=env, encoding="utf-8",
                                   timeout=timeout, dimensions=(50, 200), echo=True)
        self.child.logfile_read = self._log

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close()

    @property
    def transcript(self) -> str:
        """Everything the program wrote so far, polkit's warning left out."""
        return self._log.getvalue().replace(POLKIT, "")

    def expect(self, pattern: str, timeout: float = -1) -> str:
        """Wait for the regex ``pattern`` (``timeout`` seconds, -1: the default);
        what came before it."""
        self.child.expect(pattern, timeout=timeout)
        before = self.child.before
        assert isinstance(before, str)
        return before

    def wait_prompt(self, timeout: float = -1) -> str:
        """Wait for the next prompt; what came before it, terminal noise removed."""
        return clean(self.expect(re.escape(self.prompt), timeout))

    def run(self, line: str, timeout: float = -1) -> str:
        """Type ``line`` and Enter; what it printed before the next prompt
        (the echoed line left out)."""
        self.child.send(line + "\r")
        echo = clean(self.expect("\r\n", timeout))  # the end of the line typed
        if line.isprintable():  # what TAB made of a line is the test's to check
            assert echo.endswith(line), f"echo of {line!r} missing: {echo!r}"
        return self.wait_prompt(timeout)

    def listing(self, keys: str, timeout: float = -1) -> set[str]:
        """Type ``keys`` (ending in TAB TAB); the words readline lists."""
        self.child.send(keys)
        _echo, _sep, shown = clean(self.expect(re.escape(self.prompt), timeout)).partition("\n")
        return set(shown.split())

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def interrupt(self) -> None:
        self.child.sendintr()

    def end(self, timeout: float = -1) -> tuple[int | None, str]:
        """Wait for the program to exit: its exit status and last output."""
        self.child.expect(pexpect.EOF, timeout=timeout)
        before = self.child.before
        self.child.close()
        return self.child.exitstatus, clean(before if isinstance(before, str) else "")


def clean(text: str) -> str:
    """Terminal output as the program wrote it: no CR, escapes or bells, and
    no line it erased (CR, erase-line: a fan-out's progress line)."""
    return _NOISE.sub("", _ERASED.sub("", text))
