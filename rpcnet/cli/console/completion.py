"""Completion from the command grammar: what may come at the end of a line.

One engine serves the shell (readline) and bash/zsh (``rpcnet --complete``):
the first word completes to a command; ``-``/``--`` to the command's options
not yet given; after an option that takes a value, or where a bare word
would fill the next positional option, to that option's values — fixed
choices, local paths, or what the hosts say (network names, the union over
the active hosts; port UUIDs; host labels). An empty word where no option
has values offers the options, as virsh's shell does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from rpcnet.cli.console.grammar import CommandDef, Kind, Opt, Options, Source, split_partial


class Lookup(Protocol):
    async def values(self, source: Source, options: Options) -> list[str]:
        """Values of an option fed by ``source``, given the options typed so far."""


@dataclass(frozen=True, slots=True)
class Completion:
    #: the unfinished word, unquoted
    word: str
    #: where that word starts in the line
    start: int
    #: full replacements for ``word``, sorted, unquoted
    candidates: list[str]


async def complete_line(line: str, commands: dict[str, CommandDef],
                        lookup: Lookup) -> Completion:
    """Candidates for the word at the end of ``line`` (the text before the cursor)."""
    tokens, word, start = split_partial(line)
    return Completion(word, start, await complete_words(tokens, word, commands, lookup))


async def complete_words(tokens: list[str], word: str, commands: dict[str, CommandDef],
                         lookup: Lookup) -> list[str]:
    """Candidates for ``word`` after the finished ``tokens`` of one command."""
    if not tokens:
        return _matching(commands, word)
    definition = commands.get(tokens[0])
    if definition is None:
        return []
    typed = _scan(definition, tokens[1:])
    if typed.pending is not None:
        return await _values(typed.pending, word, typed, commands, lookup)
    if not typed.only_data and word.startswith("--") and "=" in word:
        name, _eq, value = word[2:].partition("=")
        opt = definition.opt(name)
        if opt is None or opt.kind is Kind.BOOL:
            return []
        return [f"--{name}={v}" for v in await _values(opt, value, typed, commands, lookup)]
    options = [f"--{o.name}" for o in definition.opts
               if o.name not in typed.values or o.kind is Kind.ARGV]
    if not typed.only_data and word.startswith("-"):
        return _matching(options, word)
    slot = typed.slots[0] if typed.slots else None
    if slot is not None and slot.values is not None:
        return await _values(slot, word, typed, commands, lookup)
    return _matching(options, word) if word == "" and not typed.only_data else []


@dataclass(slots=True)
class _Typed:
    """What the finished words of a command say, read as leniently as possible."""

    values: dict[str, Any] = field(default_factory=dict)
    #: positional options still free, in order
    slots: list[Opt] = field(default_factory=list)
    #: an option given by name whose value is the word being completed
    pending: Opt | None = None
    only_data: bool = False

    def store(self, opt: Opt, value: Any) -> None:
        if opt.kind is Kind.ARGV:
            self.values.setdefault(opt.name, []).append(value)
            return
        self.values[opt.name] = value
        if opt in self.slots:
            self.slots.remove(opt)


def _scan(definition: CommandDef, words: list[str]) -> _Typed:
    typed = _Typed(slots=[o for o in definition.opts if o.takes_data])
    for token in words:
        if typed.pending is not None:
            typed.store(typed.pending, token)
            typed.pending = None
        elif not typed.only_data and token == "--":
            typed.only_data = True
        elif not typed.only_data and token.startswith("--") and token[2:3].isalnum():
            name, eq, inline = token[2:].partition("=")
            opt = definition.opt(name)
            if opt is None:
                continue
            if opt.kind is Kind.BOOL:
                typed.values[name] = True
            elif eq:
                typed.store(opt, inline)
            else:
                typed.pending = opt
        elif typed.slots:
            typed.store(typed.slots[0], token)
    return typed


async def _values(opt: Opt, word: str, typed: _Typed, commands: dict[str, CommandDef],
                  lookup: Lookup) -> list[str]:
    source = opt.values
    if source is None:
        return []
    if isinstance(source, tuple):
        return _matching(source, word)
    if source is Source.PATH:
        return paths(word)
    if source is Source.COMMAND:
        return _matching(commands, word)
    return _matching(await lookup.values(source, Options(typed.values)), word)


def _matching(names: Any, word: str) -> list[str]:
    return sorted(n for n in names if n.startswith(word))


def paths(word: str) -> list[str]:
    """Local files and directories (with a trailing ``/``) whose path starts with ``word``."""
    head, _sep, tail = word.rpartition("/")
    directory = os.path.expanduser(head + "/" if _sep else ".") or "/"
    prefix = head + "/" if _sep else ""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    found = []
    for entry in entries:
        if not entry.name.startswith(tail) or (entry.name.startswith(".") and
                                               not tail.startswith(".")):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        found.append(prefix + entry.name + ("/" if is_dir else ""))
    return sorted(found)


def escape(text: str) -> str:
    """``text`` as one word of the console's grammar (backslashes before blanks,
    quotes, backslashes and ``;``)."""
    return "".join("\\" + ch if ch in " \t\n\\'\";" else ch for ch in text)


def for_segment(found: Completion, line: str, segment: str,
                quote: Callable[[str], str]) -> list[str]:
    """The candidates as replacements for ``segment``, the tail of the word
    that a front end (readline, bash) replaces: each quoted with ``quote``,
    less what the user typed before ``segment``."""
    typed = line[found.start:]
    if not typed.endswith(segment):
        return []
    before = typed[:len(typed) - len(segment)]
    quoted = (quote(c) for c in found.candidates)
    return [q[len(before):] for q in quoted if q.startswith(before)]
