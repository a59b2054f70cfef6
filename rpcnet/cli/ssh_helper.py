"""``rpcnet-ssh-helper``: what a host with rpcnet and no libvirt runs at the
far end of an ssh connection, in place of libvirt's ``virt-ssh-helper`` or
``nc``.

libvirt's ssh transports (and rpcnet's, which run the same command) ask the
far side for ``virt-ssh-helper [-r] URI`` if it has one, else for ``nc -U
SOCKET``. This program speaks both:

    rpcnet-ssh-helper [-r] URI          # as virt-ssh-helper
    rpcnet-ssh-helper [-q SECS] -U PATH # as OpenBSD nc (the form libvirt uses)

As virt-ssh-helper it picks the daemon's socket for ``URI`` (a local URI
such as ``network:///system``): rpcnetd's own (``/run/rpcnet/rpcnet-sock``)
for the network and test drivers, then the modular daemon's
(``/var/run/libvirt/virtNAMEd-sock``), then libvirtd's (``libvirt-sock``);
``-sock-ro`` with ``-r``. Then it copies stdin to the socket and the
socket to stdout until either ends. Install it as ``virt-ssh-helper`` on a
host without libvirt (``ln -s``), or name it with ``?netcat=`` in the URI.
"""

from __future__ import annotations

# What this imports is paid on every ssh connection to the host: the helper
# starts once per session. ``socket`` (enum, selectors), ``threading`` and
# ``urllib.parse`` would more than double its start, so it takes the
# ``_socket`` type the ``socket`` module wraps, copies in one poll loop and
# splits the URI itself.
import _socket
import os
import select
import sys

PROG = "rpcnet-ssh-helper"
RPCNET_SOCKET = "/run/rpcnet/rpcnet-sock"
LIBVIRT_DIR = "/var/run/libvirt"
CHUNK = 256 * 1024


class HelperError(Exception):
    pass


def socket_for(uri: str, readonly: bool) -> str:
    """The socket a helper connects to for ``uri``, as virt-ssh-helper picks it
    (auto mode), rpcnetd's own tried first."""
    scheme, separator, rest = uri.partition("://")
    if not scheme or not separator:
        raise HelperError(f"cannot parse '{uri}': missing scheme for URI")
    driver, _, transport = scheme.partition("+")
    authority, slash, path = rest.partition("/")
    path = slash + path.partition("?")[0].partition("#")[0]
    host = authority.rpartition("@")[2].partition(":")[0]
    if not driver or transport not in ("", "unix") or host:
        raise HelperError(f"unexpected URI transport '{uri}'")
    if path == "/session":
        raise HelperError(f"session URIs are not served: '{uri}'")
    suffix = "-sock-ro" if readonly else "-sock"
    candidates = [f"{LIBVIRT_DIR}/virt{driver}d{suffix}", f"{LIBVIRT_DIR}/libvirt{suffix}"]
    if driver in ("network", "test"):
        candidates.insert(0, RPCNET_SOCKET + suffix.removeprefix("-sock"))
    for candidate in candidates:
        if os.path.exists(candidate):
            return candidate
    return candidates[-1]


def _connect(path: str) -> _socket.socket:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise HelperError(f"cannot connect to '{path}': {exc.strerror}") from None
    return sock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def proxy(sock: _socket.socket) -> None:
    """Copy stdin to ``sock`` and ``sock`` to stdout until either ends."""
    peer = sock.fileno()
    target = {0: peer, peer: 1}
    poller = select.poll()
    for fd in target:
        poller.register(fd, select.POLLIN)
    try:
        while True:
            for fd, _ in poller.poll():
                data = os.read(fd, CHUNK)
                if not data:
                    return
                _write_all(target[fd], data)
    except OSError:
        return


def _parse(argv: list[str]) -> str:
    """The socket path, from either command line form."""
    readonly, unix, uri = False, None, None
    args = iter(argv)
    for arg in args:
        if arg in ("-r", "--readonly"):
            readonly = True
        elif arg in ("-V", "--version"):
            from rpcnet import __version__

            print(f"{PROG} (rpcnet) {__version__}")
            raise SystemExit(0)
        elif arg.startswith("-q"):
            if arg == "-q" and next(args, None) is None:
                # the words libvirt's probe for nc's -q looks for
                raise HelperError("option requires an argument -- 'q'")
        elif arg == "-U":
            unix = next(args, None)
            if unix is None:
                raise HelperError("option requires an argument -- 'U'")
        elif arg.startswith("-"):
            raise HelperError(f"unknown option '{arg}'")
        elif uri is None:
            uri = arg
        else:
            raise HelperError(f"unexpected argument '{arg}'")
    if unix is not None:
        return unix
    if uri is None:
        raise HelperError(f"usage: {PROG} [-r] URI | {PROG} [-q SECONDS] -U SOCKET")
    return socket_for(uri, readonly)


def main(argv: list[str] | None = None) -> int:
    try:
        path = _parse(sys.argv[1:] if argv is None else argv)
        sock = _connect(path)
    except HelperError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 1
    proxy(sock)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
