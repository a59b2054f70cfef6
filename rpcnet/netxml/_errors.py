"""The messages libvirt's XML helpers build from what they were parsing;
the constructors themselves are :mod:`rpcnet.errors`'."""

from __future__ import annotations

from rpcnet.errors import ErrorCode, ErrorDomain, VirError, xml_domain_error


def missing_name() -> VirError:
    """``missing name information`` (VIR_ERR_NO_NAME): libvirt reports it without a template."""
    return VirError(ErrorCode.NO_NAME, ErrorDomain.NETWORK, "missing name information")


def bad_attr_value(attr: str, element: str, value: str, expected: str = "") -> VirError:
    """libvirt's generic attribute parser error (XML domain)."""
    detail = f"Invalid value for attribute '{attr}' in element '{element}': '{value}'."
    if expected:
        detail += f" Expected {expected}"
    return xml_domain_error(ErrorCode.XML_ERROR, detail)


def zero_not_permitted(attr: str, element: str) -> VirError:
    return xml_domain_error(
        ErrorCode.XML_ERROR,
        f"Invalid value for attribute '{attr}' in element '{element}': Zero is not permitted",
    )


def bad_root(expected: str, found: str) -> VirError:
    return xml_domain_error(
        ErrorCode.XML_ERROR, f"expecting root element of '{expected}', not '{found}'"
    )
