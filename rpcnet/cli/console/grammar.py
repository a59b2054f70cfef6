"""virsh's command grammar: option kinds, tokenizing a command string, and
the parse errors virsh prints (word for word, since scripts match them).

One argument (``rpcnet -c URI "net-list --all; net-info x"``) is a script:
tokens split on blanks with shell-like quoting, commands on ``;`` or newline.
Several arguments are one command, one token each. Every command is parsed
(and checked for required options) before any runs, as virsh does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rpcnet.cli.console.context import Context


class Kind(Enum):
    """Option kinds. Every kind but BOOL may also be given positionally: a bare
    word fills the first such option not yet seen, in definition order."""

    BOOL = "bool"
    DATA = "string"
    STRING = "string"
    INT = "number"


@dataclass(frozen=True, slots=True)
class Opt:
    name: str
    kind: Kind
    required: bool = False
    #: False for virsh's VSH_OFLAG_REQ_OPT options, which take a value only by name
    positional: bool = True


Handler = Callable[["Context", "Options"], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class CommandDef:
    name: str
    opts: tuple[Opt, ...]
    handler: Handler
    help: str = ""

    def opt(self, name: str) -> Opt | None:
        for o in self.opts:
            if o.name == name:
                return o
        return None


@dataclass(slots=True)
class Options:
    """The options of one parsed command."""

    values: dict[str, Any] = field(default_factory=dict)

    def flag(self, name: str) -> bool:
        return bool(self.values.get(name))

    def string(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) else None

    def require(self, name: str) -> str:
        value = self.values[name]
        assert isinstance(value, str)
        return value


@dataclass(frozen=True, slots=True)
class Command:
    definition: CommandDef
    options: Options


class ParseError(Exception):
    """The command line is wrong; ``messages`` are virsh's ``error:`` lines."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def split_script(text: str) -> list[list[str]]:
    """Tokens of each command in a script string (virsh's quoting rules)."""
    commands: list[list[str]] = []
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t":
            i += 1
            continue
        if ch in ";\n":
            commands.append(tokens)
            tokens = []
            i += 1
            continue
        if ch == "#" and not tokens:
            while i < n and text[i] != "\n":
                i += 1
            continue
        token, i = _read_token(text, i)
        tokens.append(token)
    commands.append(tokens)
    return [c for c in commands if c]


def _read_token(text: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    quote: str | None = None
    n = len(text)
    while i < n:
        ch = text[i]
        if quote is None and ch in " \t;\n":
            break
        if ch == "\\" and quote != "'" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
            continue
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote else ch
        else:
            out.append(ch)
        i += 1
    return "".join(out), i


def parse_command(tokens: list[str], commands: dict[str, CommandDef]) -> Command:
    """Parse one command's tokens; raises :class:`ParseError`."""
    name, rest = tokens[0], tokens[1:]
    definition = commands.get(name)
    if definition is None:
        raise ParseError(f"unknown command: '{name}'")
    values: dict[str, Any] = {}
    positional = [o for o in definition.opts if o.kind is not Kind.BOOL and o.positional]
    only_data = False
    i = 0
    while i < len(rest):
        token = rest[i]
        i += 1
        if not only_data and token == "--":
            only_data = True
            continue
        if not only_data and token.startswith("--") and len(token) > 2:
            opt_name, eq, inline = token[2:].partition("=")
            opt = definition.opt(opt_name)
            if opt is None:
                raise ParseError(f"command '{name}' doesn't support option --{opt_name}")
            if opt.name in values:
                raise ParseError(f"option --{opt.name} already seen")
            if opt.kind is Kind.BOOL:
                if eq:
                    raise ParseError(f"invalid '=' after option --{opt.name}")
                values[opt.name] = True
            elif eq:
                values[opt.name] = inline
            elif i < len(rest):
                values[opt.name] = rest[i]
                i += 1
            else:
                raise ParseError(f"expected syntax: --{opt.name} <{opt.kind.value}>")
            continue
        slot = next((o for o in positional if o.name not in values), None)
        if slot is None:
            raise ParseError(f"unexpected data '{token}'")
        values[slot.name] = token
    missing = [f"command '{name}' requires <{o.name}> option"
               for o in definition.opts if o.required and o.name not in values]
    if missing:
        raise ParseError(*missing)
    return Command(definition, Options(values))


def parse_line(args: list[str], commands: dict[str, CommandDef]) -> list[Command]:
    """One argument: a script; several: one command. Raises :class:`ParseError`."""
    token_lists = split_script(args[0]) if len(args) == 1 else [args]
    return [parse_command(tokens, commands) for tokens in token_lists]
