"""The daemon's logging as the admin program reads and sets it, in libvirt's
syntax (``virt-admin daemon-log-outputs``/``daemon-log-filters``).

The settings themselves are :mod:`rpcnet.server.logsetup`'s; this module
gives them libvirt 9.0's answers: outputs as ``P:dest[:target]`` joined by
spaces, filters as libvirt stores them (``P:*match*``, each followed by a
space) or nothing at all, an empty output list meaning the default
output, and libvirt's errors for what cannot be parsed or opened.
"""

from __future__ import annotations

import dataclasses
import logging

from rpcnet.errors import ErrorCode, ErrorDomain, general_error, system_error
from rpcnet.server import logsetup

log = logging.getLogger("rpcnet.server")


def outputs() -> tuple[str, int]:
    """The outputs and how many there are."""
    current = logsetup.current().outputs
    return logsetup.format_outputs(current), len(current)


def filters() -> tuple[str | None, int]:
    """The filters (None when there are none) and how many there are."""
    current = logsetup.current().filters
    if not current:
        return None, 0
    return "".join(f"{item.priority}:*{item.match}* " for item in current), len(current)


def set_outputs(text: str | None) -> None:
    """Replace the outputs; none (or an empty text) brings the default back.
    Raises VirError, changing nothing, for a bad output or a file that
    cannot be opened."""
    if text:
        try:
            outputs_ = logsetup.parse_outputs(text)
        except ValueError as exc:
            raise general_error(ErrorCode.INVALID_ARG, str(exc)) from None
    else:
        outputs_ = logsetup.LogSettings().outputs
    _apply(dataclasses.replace(logsetup.current(), outputs=outputs_))
    log.info("log outputs set to %s", logsetup.format_outputs(outputs_))


def set_filters(text: str | None) -> None:
    """Replace the filters (none: no filter). Raises VirError for a bad one."""
    try:
        filters_ = logsetup.parse_filters(text or "")
    except ValueError as exc:
        raise general_error(ErrorCode.INVALID_ARG, str(exc)) from None
    _apply(dataclasses.replace(logsetup.current(), filters=filters_))
    log.info("log filters set to %s", logsetup.format_filters(filters_) or "(none)")


def _apply(settings: logsetup.LogSettings) -> None:
    try:
        logsetup.apply(settings)
    except OSError as exc:
        raise system_error(ErrorDomain.NONE, exc.errno or 0,
                           f"failed to open {exc.filename}: {exc.strerror}") from None
