"""Which driver a CONNECT_OPEN name selects, with libvirtd's refusals.

``qemu:///system``, ``qemu:///session`` and ``lxc:///`` are also served,
by the network driver: a hypervisor connection of libvirtd reaches
the network driver the same way, and go-libvirt's ``Connect()`` and many
management tools open exactly that URI before calling network APIs. Its
domain APIs answer "not supported", as every non-network API here does.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from rpcnet.errors import ErrorCode, ErrorDomain, VirError, general_error, internal_error


@dataclass(frozen=True, slots=True)
class OpenTarget:
    """The driver key (``network`` or ``test``) and the URI the connection reports."""

    driver: str
    uri: str


def resolve_open_name(name: str | None, *, privileged: bool) -> OpenTarget:
    """Map the name sent in CONNECT_OPEN to a driver.

    ``None`` and ``""`` select the network driver (``network:///system``, or
    ``network:///session`` when the daemon is not root). Extra query
    parameters are tolerated, as libvirtd does.
    """
    own_path = "/system" if privileged else "/session"
    if not name:
        return OpenTarget("network", f"network://{own_path}")
    try:
        parts = urlsplit(name)
    except ValueError:
        raise _no_connect(name) from None
    scheme = parts.scheme.lower()
    if not scheme or "+" in scheme or parts.netloc:
        raise _no_connect(name)
    if scheme == "network":
        if parts.path != own_path:
            raise internal_error(ErrorDomain.NONE, f"unexpected network URI path '{parts.path}', "
                                                   f"try network://{own_path}")
        return OpenTarget("network", f"network://{own_path}")
    if scheme == "qemu":
        if parts.path not in ("/system", "/session"):
            raise internal_error(ErrorDomain.NONE, f"unexpected qemu URI path '{parts.path}', "
                                                   f"try qemu://{own_path}")
        return OpenTarget("network", f"qemu://{parts.path}")
    if scheme == "lxc" and parts.path in ("", "/", "/system"):
        return OpenTarget("network", f"lxc://{parts.path or '/'}")
    if scheme == "test" and parts.path == "/default":
        return OpenTarget("test", "test:///default")
    raise _no_connect(name)


def _no_connect(name: str) -> VirError:
    return general_error(ErrorCode.NO_CONNECT, name)
