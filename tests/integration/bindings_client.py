"""Steer a libvirt Python bindings client (scripts/kit_client.py under
/usr/bin/python3) from a test, one command at a time, while the test's
in-process daemon misbehaves on command."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from tests.peers.virsh import SYSTEM_PYTHON

SCRIPT = Path(__file__).parent / "scripts" / "kit_client.py"


class Lines:
    """The lines of a child's text output, read on a thread, taken with a timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def next(self, timeout: float) -> str | None:
        """The next line (None at the end); raises TimeoutError if none comes in time."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no line in {timeout} s") from None


class BindingsClient:
    """One connection of the Python bindings, in a child process."""

    def __init__(self, uri: str, *, event_loop: bool = False, timeout: float = 30.0) -> None:
        args = [SYSTEM_PYTHON, str(SCRIPT), uri, *(["--event-loop"] if event_loop else [])]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "LC_ALL": "C"})
        assert self.proc.stdout is not None
        self._lines = Lines(self.proc.stdout)
        try:
            opened = self.receive(timeout)
        except BaseException:
            self.close()
            raise
        assert opened == {"opened": True}, opened

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, command: str, *args: Any) -> None:
        """Start a command; its answer comes with :meth:`receive`."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps([command, *args]) + "\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float = 30.0) -> dict[str, Any]:
        """The next answer; raises TimeoutError (queue.Empty) if none comes in time."""
        line = self._lines.next(timeout)
        if line is None:
            raise AssertionError(f"the bindings client exited: {self.stderr()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def call(self, command: str, *args: Any, timeout: float = 30.0) -> dict[str, Any]:
        self.send(command, *args)
        return self.receive(timeout)

    def result(self, command: str, *args: Any, timeout: float = 30.0) -> Any:
        """The command's result; AssertionError if the bindings raised."""
        answer = self.call(command, *args, timeout=timeout)
        assert "error" not in answer, f"{command}: {answer['error']}"
        return answer["result"]

    def error(self, command: str, *args: Any, timeout: float = 30.0) -> list[Any]:
        """``[code, domain, message]`` of the libvirtError the command raised."""
        answer = self.call(command, *args, timeout=timeout)
        assert "error" in answer, f"{command} did not fail: {answer}"
        error: list[Any] = answer["error"]
        return error

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return "(still running)"
        return self.proc.stderr.read()

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
