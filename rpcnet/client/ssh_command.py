"""What libvirt's ssh transports run: the ``ssh`` command line and the command
the far side runs (libvirt 9.0's behaviour, so a URI that works in virsh
works here unchanged).

The remote command is a ``sh -c '...'`` that proxies the connection to the
daemon's UNIX socket, chosen by ``proxy=``:

- ``native``: ``virt-ssh-helper [-r] URI``, which finds the daemon's socket
  on the far side (the modular daemon's, else libvirtd's);
- ``netcat``: ``nc -U SOCKET`` (``netcat=`` names another binary; ``-q0``
  is added when that nc has ``-q``), the default when ``socket=`` is given;
- ``auto`` (the default otherwise): virt-ssh-helper if the far side has it,
  else netcat.

With no ``socket=``, netcat's socket is libvirtd's (``/var/run/libvirt/
libvirt-sock``, ``-ro`` for read-only): libvirt cannot know from here which
daemon the far side runs, so ``mode=direct`` is refused for ssh. The same
command runs in the in-process (``+libssh``) transport's channel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum

from rpcnet.client.uri import RemoteUri
from rpcnet.errors import ErrorCode, remote_error

#: Characters after which libvirt quotes a word for the shell (virBufferEscapeShell).
_SHELL_SPECIAL = frozenset("\r\t\n !\"#$&'()*;<>?[\\]^`{|}~")
#: Where the far side's legacy (libvirtd) sockets are: /var/run, not /run, as
#: libvirt writes it (a remote host may lack /run; every /run has /var/run).
_REMOTE_SOCKET_DIR = "/var/run/libvirt"


class Proxy(StrEnum):
    AUTO = "auto"
    NETCAT = "netcat"
    NATIVE = "native"


def shell_quote(word: str) -> str:
    """Quote ``word`` for /bin/sh the way libvirt does: untouched unless it
    holds a special character, else in single quotes."""
    if not word:
        return "''"
    if not any(char in _SHELL_SPECIAL for char in word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def _twice(word: str) -> str:
    # The login shell of the far side runs `sh -c '...'`, which parses again.
    return shell_quote(shell_quote(word))


def is_session(uri: RemoteUri) -> bool:
    """libvirt's "user session daemon" URIs: ``/session`` or ``test+...``,
    when the client is not root."""
    return os.geteuid() > 0 and (uri.path == "/session" or uri.driver == "test")


@dataclass(frozen=True, slots=True)
class SshTarget:
    """An ssh URI's parameters, checked in the order libvirt checks them."""

    uri: RemoteUri
    readonly: bool
    proxy: Proxy
    netcat: str | None
    socket: str

    @classmethod
    def from_uri(cls, uri: RemoteUri, *, readonly: bool) -> SshTarget:
        """Raises :class:`VirError` for what libvirt refuses (unknown mode or
        proxy, ``mode=direct``, ``netcat=`` with ``proxy=native``, a
        non-integer boolean)."""
        for name in uri.params:
            if name.lower() in ("no_verify", "no_tty", "no_sanity"):
                uri.bool_param(name.lower())
        mode = uri.param("mode")
        if mode is not None and mode not in ("auto", "legacy", "direct"):
            raise remote_error(ErrorCode.INVALID_ARG, f"Unknown remote mode '{mode}'")
        socket = uri.param("socket")
        netcat = uri.param("netcat")
        proxy_text = uri.param("proxy")
        if proxy_text is not None:
            if proxy_text not in Proxy.__members__.values():
                # sic: libvirt 9.0's spelling
                raise remote_error(ErrorCode.INVALID_ARG, f"Unnkown proxy type '{proxy_text}'")
            proxy = Proxy(proxy_text)
        elif socket:
            proxy = Proxy.NETCAT
        elif is_session(uri):
            proxy = Proxy.NATIVE
        else:
            proxy = Proxy.AUTO
        if not socket:
            if mode == "direct":
                raise remote_error(ErrorCode.OPERATION_UNSUPPORTED,
                                   f"Cannot use direct socket mode for {uri.transport} transport")
            socket = _legacy_socket(uri, readonly)
        if proxy is Proxy.AUTO and netcat is not None:
            proxy = Proxy.NETCAT  # naming a netcat asks for the netcat proxy
        if proxy is Proxy.NATIVE and netcat is not None:
            raise remote_error(ErrorCode.INVALID_ARG,
                               "netcat path not valid with native proxy mode")
        return cls(uri, readonly, proxy, netcat, socket)

    @property
    def remote_command(self) -> str:
        """The command line sshd runs on the far side."""
        netcat = _twice(self.netcat or "nc")
        nc = (f"if '{netcat}' -q 2>&1 | grep \"requires an argument\" >/dev/null 2>&1; then "
              f"ARG=-q0;else ARG=;fi;'{netcat}' $ARG -U {self.socket}")
        helper = f"virt-ssh-helper{' -r ' if self.readonly else ' '}'{_twice(self.uri.open_name)}'"
        if self.proxy is Proxy.NETCAT:
            return f"sh -c '{nc}'"
        if self.proxy is Proxy.NATIVE:
            return f"sh -c '{helper}'"
        return (f"sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then "
                f"    {helper}; else    {nc}; fi'")

    @property
    def host(self) -> str:
        return self.uri.host or "localhost"

    def ssh_argv(self) -> list[str]:
        """The ``ssh`` (or ``command=``) command line of the ``+ssh`` transport."""
        uri = self.uri
        argv = [uri.param("command") or "ssh"]
        if uri.port:
            argv += ["-p", str(uri.port)]
        if uri.user:
            argv += ["-l", uri.user]
        keyfile = uri.param("keyfile")
        if keyfile:
            argv += ["-i", keyfile]
        argv += ["-T", "-e", "none"]
        if uri.bool_param("no_tty"):
            argv += ["-o", "BatchMode=yes"]
        if uri.bool_param("no_verify"):
            argv += ["-o", "StrictHostKeyChecking=no"]
        return [*argv, "--", self.host, self.remote_command]


def _legacy_socket(uri: RemoteUri, readonly: bool) -> str:
    if is_session(uri):
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        base = f"{runtime}/libvirt" if runtime else os.path.expanduser("~/.cache/libvirt")
        return f"{base}/libvirt-sock"
    return f"{_REMOTE_SOCKET_DIR}/libvirt-sock{'-ro' if readonly else ''}"
