"""The interactive shell: ``rpcnet`` with no command, as ``virsh`` with none.

Theory of operation: the main thread owns the terminal (GNU readline from
the standard library: line editing, history, TAB) and the signals; the
session — its connections, opened once per host and kept open — lives on an
event loop in a second thread, so keepalives and events go on while the
prompt waits. Each line is parsed here and run there; Ctrl-C while it runs
ends the wait of ``net-event`` (:class:`~rpcnet.cli.console.context.Interrupt`)
or else cancels the command, and the shell goes on; Ctrl-C at the prompt
drops the line; Ctrl-D or ``quit`` ends the shell.

What virsh does is kept: its banner (with our name), the prompt
(``rpcnet # ``, ``rpcnet > `` read-only), a blank line after each command,
errors on stderr, a newline on leaving, exit status 0. Where virsh differs
on purpose: Ctrl-C at the prompt does not end the shell, and the history
file is $XDG_STATE_HOME/rpcnet/history (virsh: $XDG_CACHE_HOME/libvirt/virsh),
kept for terminals only. With several hosts the prompt shows the active
ones, e.g. ``rpcnet (web1,web2) # `` or ``rpcnet (20 hosts) # ``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from rpcnet.cli.console.catalog import COMMANDS
from rpcnet.cli.console.completion import complete_line, escape, for_segment
from rpcnet.cli.console.grammar import ParseError, parse_line
from rpcnet.cli.console.session import COMPLETION_TIMEOUT, Session

T = TypeVar("T")
HISTORY_LENGTH = 500
#: the prompt shows at most this much of the active hosts' labels
PROMPT_LABELS = 40


class LoopThread:
    """An event loop running in its own (daemon) thread."""

    def __init__(self) -> None:
        from rpcnet.cli import new_event_loop

        self.loop = new_event_loop()
        self._thread = threading.Thread(target=self._run, name="rpcnet-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # Ctrl-C must reach the main thread: a signal that lands here would
        # not wake it from readline or from waiting for a command
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self.submit(coro).result(timeout)

    def stop(self) -> None:
        """Cancel what still runs on the loop, then end it."""
        with contextlib.suppress(Exception):
            self.call(_cancel_others(), timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


async def _cancel_others() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def history_file() -> Path:
    """$XDG_STATE_HOME/rpcnet/history, by default ~/.local/state/rpcnet/history."""
    state = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "rpcnet" / "history"


def prompt(session: Session) -> str:
    mark = ">" if session.readonly else "#"
    if session.single:
        return f"rpcnet {mark} "
    labels = ",".join(h.label for h in session.active)
    if len(labels) > PROMPT_LABELS:
        count = len(session.active)
        labels = f"{count} host{'s' if count != 1 else ''}"
    return f"rpcnet ({labels}) {mark} "


def banner(session: Session) -> str:
    text = ("Welcome to rpcnet, the virtual network console.\n\n"
            "Type:  'help' for help with commands\n"
            "       'quit' to quit\n")
    if not session.single:
        text += f"       'hosts' to see the {len(session.hosts)} hosts, " \
                "'use LABEL...' to pick some\n"
    return text + "\n"


class Shell:
    def __init__(self, session: Session, runner: LoopThread) -> None:
        self.session = session
        self.runner = runner
        self.tty = sys.stdin.isatty()
        self._matches: list[str] = []
        self._history: Path | None = None
        #: a line is being run: Ctrl-C goes to it instead of raising KeyboardInterrupt
        self._busy = False
        self._running: concurrent.futures.Future[bool] | None = None
        self._interrupted = False

    def loop(self) -> None:
        if self.tty:
            self._start_readline()
        self.runner.submit(self.session.warm_up())
        if not self.session.out.quiet:
            sys.stdout.write(banner(self.session))
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            self._lines()
        finally:
            signal.signal(signal.SIGINT, previous)
        sys.stdout.write("\n")
        sys.stdout.flush()

    def _lines(self) -> None:
        while not self.session.quitting:
            try:
                line = self._read(prompt(self.session))
                if line:
                    self._remember(line)
                    self._execute(line)
            except EOFError:
                return
            except KeyboardInterrupt:  # at the prompt: drop the line
                sys.stdout.write("\n")

    def _read(self, text: str) -> str:
        if self.tty:
            return input(text)
        sys.stdout.write(text)
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        line = line.rstrip("\n")
        sys.stdout.write(line + "\n")  # what readline echoes for virsh
        return line

    def _execute(self, line: str) -> None:
        try:
            commands = parse_line([line], COMMANDS)
        except ParseError as exc:
            for message in exc.messages:
                self.session.out.error(message)
            return
        self._busy = True
        try:
            self._running = self.runner.submit(self.session.run(commands))
            if self._interrupted:  # Ctrl-C came before the command was on its way
                self._interrupt_soon()
            self._running.result()
        except concurrent.futures.CancelledError:
            sys.stdout.write("\n")
        except Exception as exc:  # a bug must not take the shell down
            self.session.out.error(f"internal error: {exc!r}")
        finally:
            self._busy, self._running, self._interrupted = False, None, False

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if not self._busy:
            raise KeyboardInterrupt
        self._interrupted = True
        if self._running is not None:
            self._interrupt_soon()

    def _interrupt_soon(self) -> None:
        running = self._running
        assert running is not None
        self.runner.loop.call_soon_threadsafe(self._interrupt, running)

    def _interrupt(self, running: concurrent.futures.Future[bool]) -> None:
        """Ctrl-C while ``running`` runs (on the event loop)."""
        if not self.session.interrupt.end_wait():
            running.cancel()

    # -- readline -------------------------------------------------------------

    def _start_readline(self) -> None:
        import readline

        readline.set_auto_history(False)
        readline.set_completer_delims(" \t\n;")
        readline.set_completer(self._complete)
        readline.parse_and_bind("tab: complete")
        readline.set_history_length(HISTORY_LENGTH)
        path = history_file()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.touch(mode=0o600)  # commands may name secrets, as a shell's history
            readline.read_history_file(path)
            if readline.get_current_history_length() > HISTORY_LENGTH:
                readline.write_history_file(path)
        except OSError as exc:
            self.session.out.error(f"cannot use history file '{path}': {exc.strerror}")
            return
        self._history = path

    def _remember(self, line: str) -> None:
        if not self.tty:
            return
        import readline

        readline.add_history(line)
        if self._history is not None:
            try:
                readline.append_history_file(1, self._history)
            except OSError:
                self._history = None

    def _complete(self, text: str, state: int) -> str | None:
        """readline's completer: called with state 0, 1, ... until it returns None."""
        if state == 0:
            import readline

            line = readline.get_line_buffer()[:readline.get_endidx()]
            try:
                found = self.runner.call(complete_line(line, COMMANDS, self.session),
                                         COMPLETION_TIMEOUT + 1)
            except Exception:
                self._matches = []
            else:
                self._matches = for_segment(found, line, text, escape)
        return self._matches[state] if state < len(self._matches) else None


def run_shell(session: Session, *, eager: bool) -> int:
    """The shell until quit or end of input; 1 if the host named cannot be reached."""
    runner = LoopThread()
    try:
        if eager and not runner.call(session.open()) and session.single:
            return 1
        Shell(session, runner).loop()
        return 0
    finally:
        runner.call(session.close())
        runner.stop()
