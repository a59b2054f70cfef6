"""libvirt-style typed errors, shared by every layer.

A :class:`VirError` carries libvirt's numeric error code, domain and level
end to end: a driver raises it, the server encodes it as ``remote_error``,
the client decodes it back into the same exception class.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ErrorCode(IntEnum):
    """The ``virErrorNumber`` values rpcnet raises or meets on the wire."""

    OK = 0
    INTERNAL_ERROR = 1
    NO_MEMORY = 2
    NO_SUPPORT = 3
    NO_CONNECT = 5
    INVALID_CONN = 6
    INVALID_ARG = 8
    OPERATION_FAILED = 9
    NO_NAME = 21
    XML_ERROR = 27
    OPERATION_DENIED = 29
    XML_DETAIL = 35
    INVALID_NETWORK = 36
    NETWORK_EXIST = 37
    SYSTEM_ERROR = 38
    RPC = 39
    GNUTLS_ERROR = 40
    WAR_NO_NETWORK = 41
    NO_NETWORK = 43
    INVALID_MAC = 44
    AUTH_FAILED = 45
    OPERATION_INVALID = 55
    CONFIG_UNSUPPORTED = 67
    OPERATION_TIMEOUT = 68
    ARGUMENT_UNSUPPORTED = 74
    AUTH_CANCELLED = 79
    OPERATION_UNSUPPORTED = 84
    SSH = 85
    RESOURCE_BUSY = 87
    ACCESS_DENIED = 88
    XML_INVALID_SCHEMA = 92
    AUTH_UNAVAILABLE = 94
    NO_SERVER = 95
    NO_CLIENT = 96
    LIBSSH = 98
    INVALID_NETWORK_PORT = 105
    NETWORK_PORT_EXIST = 106
    NO_NETWORK_PORT = 107


class ErrorDomain(IntEnum):
    """The ``virErrorDomain`` values rpcnet raises or meets on the wire."""

    NONE = 0
    XML = 5
    RPC = 7
    CONF = 9
    NET = 11
    TEST = 12
    REMOTE = 13
    NETWORK = 19
    DOMAIN = 20
    SSH = 50
    ACCESS = 55
    POLKIT = 60
    ADMIN = 62
    LIBSSH = 66


class ErrorLevel(IntEnum):
    NONE = 0
    WARNING = 1
    ERROR = 2


# libvirt's message templates (virErrorMsgStrings) for the codes above that
# take a detail: the full message is the template with the detail filled in.
_TEMPLATES: dict[int, str] = {
    ErrorCode.INTERNAL_ERROR: "internal error: %s",
    ErrorCode.NO_MEMORY: "out of memory: %s",
    ErrorCode.NO_SUPPORT: "this function is not supported by the connection driver: %s",
    ErrorCode.NO_CONNECT: "no connection driver available for %s",
    ErrorCode.INVALID_CONN: "invalid connection pointer in %s",
    ErrorCode.INVALID_ARG: "invalid argument: %s",
    ErrorCode.OPERATION_FAILED: "operation failed: %s",
    ErrorCode.XML_ERROR: "XML error: %s",
    ErrorCode.OPERATION_DENIED: "operation forbidden: %s",
    ErrorCode.XML_DETAIL: "%s",
    ErrorCode.INVALID_NETWORK: "invalid network pointer in %s",
    ErrorCode.NETWORK_EXIST: "network %s exists already",
    ErrorCode.SYSTEM_ERROR: "%s",
    ErrorCode.RPC: "%s",
    ErrorCode.GNUTLS_ERROR: "%s",
    ErrorCode.WAR_NO_NETWORK: "Failed to find the network: %s",
    ErrorCode.NO_NETWORK: "Network not found: %s",
    ErrorCode.INVALID_MAC: "invalid MAC address: %s",
    ErrorCode.AUTH_FAILED: "authentication failed: %s",
    ErrorCode.OPERATION_INVALID: "Requested operation is not valid: %s",
    ErrorCode.CONFIG_UNSUPPORTED: "unsupported configuration: %s",
    ErrorCode.OPERATION_TIMEOUT: "Timed out during operation: %s",
    ErrorCode.ARGUMENT_UNSUPPORTED: "argument unsupported: %s",
    ErrorCode.AUTH_CANCELLED: "authentication cancelled: %s",
    ErrorCode.OPERATION_UNSUPPORTED: "Operation not supported: %s",
    ErrorCode.SSH: "SSH transport error: %s",
    ErrorCode.RESOURCE_BUSY: "resource busy: %s",
    ErrorCode.ACCESS_DENIED: "access denied: %s",
    ErrorCode.XML_INVALID_SCHEMA: "XML document failed to validate against schema: %s",
    ErrorCode.AUTH_UNAVAILABLE: "authentication unavailable: %s",
    ErrorCode.NO_SERVER: "Server not found: %s",
    ErrorCode.NO_CLIENT: "Client not found: %s",
    ErrorCode.LIBSSH: "libssh transport error: %s",
    ErrorCode.INVALID_NETWORK_PORT: "Invalid network port pointer: %s",
    ErrorCode.NETWORK_PORT_EXIST: "network port %s exists already",
    ErrorCode.NO_NETWORK_PORT: "network port not found: %s",
}


class VirError(Exception):
    """A libvirt error: numeric code, domain and level plus the message.

    ``str1``..``int2`` are the extra fields of libvirt's ``virError``; most
    errors carry the message template in ``str1`` and the detail in ``str2``.
    """

    __slots__ = ("code", "domain", "int1", "int2", "level", "message", "str1", "str2", "str3")

    def __init__(
        self,
        code: int,
        domain: int,
        message: str,
        *,
        level: int = ErrorLevel.ERROR,
        str1: str | None = None,
        str2: str | None = None,
        str3: str | None = None,
        int1: int = -1,
        int2: int = -1,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.domain = domain
        self.message = message
        self.level = level
        self.str1 = str1
        self.str2 = str2
        self.str3 = str3
        self.int1 = int1
        self.int2 = int2

    @classmethod
    def make(cls, code: int, domain: int, detail: str) -> VirError:
        """Build an error the way libvirt's ``virReportError`` does.

        The message is libvirt's template for ``code`` with ``detail``
        filled in; ``str1`` holds the template and ``str2`` the detail.
        """
        template = _TEMPLATES.get(code, "%s")
        return cls(code, domain, template % detail, str1=template, str2=detail)

    @classmethod
    def invalid_flags(cls, domain: int, flags: int, function: str) -> VirError:
        """libvirt's ``virCheckFlags`` failure for unknown flag bits."""
        message = f"unsupported flags (0x{flags:x}) in function {function}"
        return cls(
            ErrorCode.INVALID_ARG, domain, message, str1=function, str2="flags", int1=0, int2=0
        )

    def __repr__(self) -> str:
        return f"VirError(code={self.code}, domain={self.domain}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        fields = {name: getattr(self, name) for name in self.__slots__}
        return (_rebuild, (fields,))


def _rebuild(fields: dict[str, Any]) -> VirError:
    code, domain, message = fields.pop("code"), fields.pop("domain"), fields.pop("message")
    return VirError(code, domain, message, **fields)


# -- constructors, one per error domain ------------------------------------------
#
# Each builds ``VirError.make(code, DOMAIN, detail)`` for the domain libvirt's
# code reports the error in; pick the one of the libvirt code being imitated.


def network_error(code: ErrorCode, detail: str) -> VirError:
    """VIR_FROM_NETWORK: the network driver and the network XML code."""
    return VirError.make(code, ErrorDomain.NETWORK, detail)


def netdev_error(code: ErrorCode, detail: str) -> VirError:
    """VIR_FROM_NET: libvirt's host-device helpers (virtualport profiles)."""
    return VirError.make(code, ErrorDomain.NET, detail)


def xml_domain_error(code: ErrorCode, detail: str) -> VirError:
    """VIR_FROM_XML: libvirt's generic XML helpers (attributes, root, schema)."""
    return VirError.make(code, ErrorDomain.XML, detail)


def general_error(code: ErrorCode, detail: str) -> VirError:
    """VIR_FROM_NONE: errors libvirt reports from no particular domain (its
    util code, the public API's argument checks, virsh itself)."""
    return VirError.make(code, ErrorDomain.NONE, detail)


def remote_error(code: ErrorCode, detail: str) -> VirError:
    """VIR_FROM_REMOTE: the client side of the remote driver."""
    return VirError.make(code, ErrorDomain.REMOTE, detail)


def rpc_error(detail: str, code: ErrorCode = ErrorCode.RPC) -> VirError:
    """VIR_FROM_RPC: a protocol error (code 39 unless given)."""
    return VirError.make(code, ErrorDomain.RPC, detail)


def admin_error(code: ErrorCode, detail: str) -> VirError:
    """VIR_FROM_ADMIN: the admin program's handlers."""
    return VirError.make(code, ErrorDomain.ADMIN, detail)


def system_error(domain: int, errno: int, detail: str) -> VirError:
    """libvirt's ``virReportSystemError``: the detail ends in the OS's reason
    and ``int1`` carries the errno."""
    error = VirError.make(ErrorCode.SYSTEM_ERROR, domain, detail)
    error.int1 = errno
    return error


def internal_error(domain: int, detail: str) -> VirError:
    """``internal error: ...`` (code 1) in ``domain``."""
    return VirError.make(ErrorCode.INTERNAL_ERROR, domain, detail)


def unsupported(api: str, domain: int = ErrorDomain.NETWORK) -> VirError:
    """libvirt's error for an empty driver slot, naming the public API."""
    return VirError.make(ErrorCode.NO_SUPPORT, domain, api)
