"""Constructors for the errors libvirt's network XML code reports."""

from __future__ import annotations

from rpcnet.errors import ErrorCode, ErrorDomain, VirError

# virErrorNumber values rpcnet.errors does not list.
NO_NAME = 21

NONE_DOMAIN = ErrorDomain.NONE


def xml_error(detail: str) -> VirError:
    """``XML error: ...`` (code 27, network domain)."""
    return VirError.make(ErrorCode.XML_ERROR, ErrorDomain.NETWORK, detail)


def detail_error(detail: str, domain: int = ErrorDomain.NETWORK) -> VirError:
    """A bare message with code 35 (XML_DETAIL)."""
    return VirError.make(ErrorCode.XML_DETAIL, domain, detail)


def config_unsupported(detail: str) -> VirError:
    return VirError.make(ErrorCode.CONFIG_UNSUPPORTED, ErrorDomain.NETWORK, detail)


def internal(detail: str, domain: int = ErrorDomain.NETWORK) -> VirError:
    return VirError.make(ErrorCode.INTERNAL_ERROR, domain, detail)


def invalid_op(detail: str) -> VirError:
    """``Requested operation is not valid: ...`` (code 55)."""
    return VirError.make(ErrorCode.OPERATION_INVALID, ErrorDomain.NETWORK, detail)


def op_unsupported(detail: str) -> VirError:
    """``Operation not supported: ...`` (code 84)."""
    return VirError.make(ErrorCode.OPERATION_UNSUPPORTED, ErrorDomain.NETWORK, detail)


def missing_name() -> VirError:
    return VirError(NO_NAME, ErrorDomain.NETWORK, "missing name information")


def bad_attr_value(attr: str, element: str, value: str, expected: str = "") -> VirError:
    """libvirt's generic attribute parser error (XML domain)."""
    detail = f"Invalid value for attribute '{attr}' in element '{element}': '{value}'."
    if expected:
        detail += f" Expected {expected}"
    return VirError.make(ErrorCode.XML_ERROR, ErrorDomain.XML, detail)


def zero_not_permitted(attr: str, element: str) -> VirError:
    return VirError.make(
        ErrorCode.XML_ERROR,
        ErrorDomain.XML,
        f"Invalid value for attribute '{attr}' in element '{element}': Zero is not permitted",
    )


def bad_root(expected: str, found: str) -> VirError:
    return VirError.make(
        ErrorCode.XML_ERROR,
        ErrorDomain.XML,
        f"expecting root element of '{expected}', not '{found}'",
    )
