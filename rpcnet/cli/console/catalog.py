"""Every command of the console in one registry, in the order they were
defined: importing this module loads the modules that define them. Help,
parsing and completion all read :data:`COMMANDS`, so a command defined
with ``@command`` in a module imported here shows up in all three."""

from rpcnet.cli.console import console_commands as _console_commands  # noqa: F401
from rpcnet.cli.console import events as _events  # noqa: F401
from rpcnet.cli.console import stats as _stats  # noqa: F401
from rpcnet.cli.console.commands import COMMANDS

__all__ = ["COMMANDS"]
