"""Completion in bash and zsh: ``rpcnet completion bash|zsh`` prints the
script; the script calls ``rpcnet --complete SHELL LINE [WORD]`` on TAB.

``LINE`` is the command line up to the cursor; ``WORD`` (bash) is the part
of the current word bash replaces, which stops at ``:`` and ``=``. The hosts
are those the line names with ``-c``/``--hosts`` (else the default URI);
they are asked for network names with the shell's completion engine and
given :data:`TIMEOUT` seconds in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from importlib import resources

from rpcnet.cli import run_coroutine
from rpcnet.cli.console import WITH_VALUE, GlobalOptions, UsageError, make_session
from rpcnet.cli.console.catalog import COMMANDS
from rpcnet.cli.console.completion import Completion, complete_words, for_segment, paths
from rpcnet.cli.console.grammar import Options, Source, split_partial
from rpcnet.cli.console.session import Session

TIMEOUT = 3.0
SHELLS = ("bash", "zsh")
GLOBAL_OPTIONS = ("-c", "--connect", "--hosts", "-r", "--readonly", "-q", "--quiet", "-h",
                  "--help", "--parallel", "--connect-timeout")
_BASH_SPECIAL = re.compile(r"[^\w@%+=:,./-]")


def main(args: list[str]) -> int:
    if args[0] == "completion":
        if args[1:] not in ([s] for s in SHELLS):
            sys.stderr.write("usage: rpcnet completion bash|zsh\n")
            return 1
        sys.stdout.write(resources.files(__package__).joinpath(f"completion.{args[1]}")
                         .read_text())
        return 0
    if len(args) not in (3, 4) or args[1] not in SHELLS:
        sys.stderr.write("usage: rpcnet --complete bash|zsh LINE [WORD]\n")
        return 1
    shell, line = args[1], args[2]
    found = run_coroutine(_complete(line))
    if shell == "bash":
        words = for_segment(found, line, args[3] if len(args) > 3 else found.word, bash_quote)
    else:
        words = found.candidates
    sys.stdout.write("".join(w + "\n" for w in words))
    return 0


def bash_quote(text: str) -> str:
    return _BASH_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


async def _complete(line: str) -> Completion:
    tokens, word, start = split_partial(line)
    g, rest = _globals(tokens[1:])
    if rest is None:  # the word is the value of the option just before it
        return Completion(word, start, paths(word) if tokens[-1] == "--hosts" else [])
    if not rest:
        names = GLOBAL_OPTIONS if word.startswith("-") else COMMANDS
        return Completion(word, start, sorted(n for n in names if n.startswith(word)))
    try:
        session = make_session(g, interactive=False)
    except OSError:
        return Completion(word, start, [])
    try:
        lookup = _Dialling(session)
        candidates = await asyncio.wait_for(complete_words(rest, word, COMMANDS, lookup),
                                            TIMEOUT)
    except TimeoutError:
        candidates = []
    finally:
        await session.close()
    return Completion(word, start, candidates)


def _globals(tokens: list[str]) -> tuple[GlobalOptions, list[str] | None]:
    """The global options before the command, and the command's words (None
    if the word being completed is the value of the last option)."""
    g = GlobalOptions()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "--":
            return g, tokens[i + 1:]
        if not token.startswith("-") or token == "-":
            break
        if token in WITH_VALUE:
            if i + 1 == len(tokens):
                return g, None
            _set(g, token, tokens[i + 1])
            i += 2
            continue
        name, eq, value = token.partition("=")
        if eq and name in WITH_VALUE:
            _set(g, name, value)
        elif token.startswith("-c") and not token.startswith("--"):
            _set(g, "-c", token[2:])
        g.readonly |= token in ("-r", "--readonly")
        i += 1
    return g, tokens[i:]


def _set(g: GlobalOptions, option: str, value: str) -> None:
    with contextlib.suppress(UsageError):  # a bad number does not stop completion
        g.set(option, value)


class _Dialling:
    """Dials the hosts the first time the hosts are asked, quietly."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._dialled = False

    async def values(self, source: Source, options: Options) -> list[str]:
        if not self._dialled and source is not Source.HOST:
            self._dialled = True
            await self.session.open_quietly(TIMEOUT)
        return await self.session.values(source, options)
