"""Errors of the host backend, worded as libvirt's bridge driver words them."""

from __future__ import annotations

from rpcnet.errors import ErrorCode, ErrorDomain, VirError


def system_error(detail: str) -> VirError:
    """A failed system call or helper program (libvirt's virReportSystemError)."""
    return VirError.make(ErrorCode.SYSTEM_ERROR, ErrorDomain.NETWORK, detail)


def internal_error(detail: str) -> VirError:
    return VirError.make(ErrorCode.INTERNAL_ERROR, ErrorDomain.NETWORK, detail)
