"""virsh's command grammar: option kinds, tokenizing a command string, and
the parse errors virsh prints (word for word, since scripts match them).

One argument (``rpcnet -c URI "net-list --all; net-info x"``) is a script:
tokens split on blanks with shell-like quoting, commands on ``;`` or newline.
Several arguments are one command, one token each. Every command is parsed
(and checked for required options) before any runs, as virsh does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rpcnet.cli.console.context import Context
    from rpcnet.cli.console.output import Sink
    from rpcnet.cli.console.session import Session


class Kind(Enum):
    """virsh's option types. Every kind but BOOL may also be given positionally
    (unless ``positional`` is False): a bare word fills the first such option
    not yet seen, in definition order; an ARGV option (last) takes all the rest."""

    BOOL = "bool"
    DATA = "data"
    STRING = "string"
    INT = "int"
    ARGV = "argv"

    @property
    def placeholder(self) -> str:
        """The value's name in help and in "expected syntax" errors."""
        return "number" if self is Kind.INT else "string"


class Source(Enum):
    """Where completion finds the values of an option."""

    NETWORK = "network"
    ACTIVE_NETWORK = "active network"
    INACTIVE_NETWORK = "inactive network"
    PERSISTENT_NETWORK = "persistent network"
    NETWORK_UUID = "network uuid"
    PORT = "port"
    PATH = "path"
    HOST = "host"
    COMMAND = "command"


@dataclass(frozen=True, slots=True)
class Opt:
    name: str
    kind: Kind
    #: what ``help COMMAND`` prints for it (virsh's text for virsh's options)
    help: str = ""
    required: bool = False
    #: False for virsh's VSH_OFLAG_REQ_OPT options, which take a value only by name
    positional: bool = True
    #: completion: a source of values, or the fixed choices
    values: Source | tuple[str, ...] | None = None

    @property
    def takes_data(self) -> bool:
        """A bare word can fill it."""
        return self.kind is not Kind.BOOL and self.positional


Handler = Callable[["Context", "Options"], Awaitable[bool]]
#: a command run on several hosts at once, as one (every host's context, one output)
TogetherHandler = Callable[[list["Context"], "Options", "Sink"], Awaitable[bool]]
ConsoleHandler = Callable[["Session", "Options"], Awaitable[bool]]


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandDef:
    """One command: its options and the text ``help`` prints for it."""

    name: str
    opts: tuple[Opt, ...]
    #: the one-line summary (virsh's "help" info)
    help: str
    #: the DESCRIPTION section (virsh's "desc" info); empty: no section
    desc: str = ""
    #: the help keyword of its group
    group: str = "network"

    def opt(self, name: str) -> Opt | None:
        for o in self.opts:
            if o.name == name:
                return o
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class HostCommand(CommandDef):
    """Runs on every active host, with that host's connection."""

    handler: Handler
    #: how it runs on several hosts at once, as one command (net-event's
    #: merged stream, net-stats's one table); None: each host runs it alone,
    #: and their outputs are merged into one table
    together: TogetherHandler | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleCommand(CommandDef):
    """Runs once, on the console itself (help, connect, quit, hosts, use)."""

    run: ConsoleHandler


@dataclass(slots=True)
class Options:
    """The options of one parsed command."""

    values: dict[str, Any] = field(default_factory=dict)

    def flag(self, name: str) -> bool:
        return bool(self.values.get(name))

    def string(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) else None

    def strings(self, name: str) -> list[str]:
        """The words of an ARGV option, in order."""
        value = self.values.get(name)
        return list(value) if isinstance(value, list) else []

    def require(self, name: str) -> str:
        value = self.values[name]
        assert isinstance(value, str)
        return value


@dataclass(frozen=True, slots=True)
class Command:
    definition: CommandDef
    options: Options


#: the command ``--help`` turns a command into
HELP = "help"


class ParseError(Exception):
    """The command line is wrong; ``messages`` are virsh's ``error:`` lines."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def split_script(text: str) -> list[list[str]]:
    """Tokens of each command in a script string (virsh's quoting rules)."""
    commands: list[list[str]] = [[]]
    for token, _start, _end in _scan(text):
        if token is None:
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def split_partial(text: str) -> tuple[list[str], str, int]:
    """A line being typed, up to the cursor: the finished tokens of its last
    command, the unfinished word at its end ("" after a blank) and the offset
    in ``text`` where that word starts."""
    tokens: list[str] = []
    for token, start, end in _scan(text):
        if token is None:
            tokens = []
        elif end == len(text):
            return tokens, token, start
        else:
            tokens.append(token)
    return tokens, "", len(text)


def _scan(text: str) -> Iterator[tuple[str | None, int, int]]:
    """Each token of ``text`` with where it starts and ends; None at the end
    of each command. ``#`` at the start of a command comments out the line."""
    i, n = 0, len(text)
    fresh = True
    while i < n:
        ch = text[i]
        if ch in " \t":
            i += 1
        elif ch in ";\n":
            yield None, i, i + 1
            i, fresh = i + 1, True
        elif ch == "#" and fresh:
            while i < n and text[i] != "\n":
                i += 1
        else:
            token, end = _read_token(text, i)
            yield token, i, end
            i, fresh = end, False


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
    """Parse one command's tokens; raises :class:`ParseError`.

    As virsh: ``--help`` anywhere makes the command ``help NAME`` (once the
    rest has parsed), and ``help`` itself ignores options and words it does
    not know."""
    name, rest = tokens[0], tokens[1:]
    definition = commands.get(name)
    if definition is None:
        raise ParseError(f"unknown command: '{name}'")
    lenient = name == HELP
    values: dict[str, Any] = {}
    positional = [o for o in definition.opts if o.takes_data]
    asked_help = only_data = False
    i = 0
    while i < len(rest):
        token = rest[i]
        i += 1
        if not only_data and token == "--":
            only_data = True
            continue
        if not only_data and token.startswith("--") and token[2:3].isalnum():
            opt_name, eq, inline = token[2:].partition("=")
            if opt_name == HELP:
                if eq:
                    raise ParseError(f"invalid '=' after option --{HELP}")
                asked_help = True
                continue
            opt = definition.opt(opt_name)
            if opt is None:
                if lenient:
                    continue
                raise ParseError(f"command '{name}' doesn't support option --{opt_name}")
            if opt.name in values and opt.kind is not Kind.ARGV:
                raise ParseError(f"option --{opt.name} already seen")
            if opt.kind is Kind.BOOL:
                if eq:
                    raise ParseError(f"invalid '=' after option --{opt.name}")
                values[opt.name] = True
                continue
            if eq:
                value = inline
            elif i < len(rest):
                value, i = rest[i], i + 1
            else:
                raise ParseError(f"expected syntax: --{opt.name} <{opt.kind.placeholder}>")
            _store(values, opt, value)
            if opt.takes_data and opt.kind is not Kind.ARGV:
                positional.remove(opt)
            continue
        if not positional:
            if lenient:
                continue
            raise ParseError(f"unexpected data '{token}'")
        slot = positional[0]
        if slot.kind is not Kind.ARGV:
            positional.pop(0)
        _store(values, slot, token)
    if asked_help:
        return Command(commands[HELP], Options({"command": name}))
    missing = [f"command '{name}' requires <{o.name}> option" if o.kind in (Kind.DATA, Kind.ARGV)
               else f"command '{name}' requires --{o.name} option"
               for o in definition.opts if o.required and o.name not in values]
    if missing:
        raise ParseError(*missing)
    return Command(definition, Options(values))


def _store(values: dict[str, Any], opt: Opt, value: str) -> None:
    if opt.kind is Kind.ARGV:
        values.setdefault(opt.name, []).append(value)
    else:
        values[opt.name] = value


def parse_line(args: list[str], commands: dict[str, CommandDef]) -> list[Command]:
    """One argument: a script; several: one command. Raises :class:`ParseError`."""
    token_lists = split_script(args[0]) if len(args) == 1 else [args]
    return [parse_command(tokens, commands) for tokens in token_lists]
