"""Tables, targets and the plot of ``python -m bench host-scale``."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from typing import Any

from .svgplot import Chart, Series, Target, page

GROWTH_LIMIT = 1.5  # issue 12: from 1 to 1,000 networks, at most 1.5x
ANSWER_LIMIT_S = 1.0
REASSERT_LIMIT_S = 10.0


def _get(rows: Sequence[Any], daemon: str, count: int, field: str) -> float | None:
    for row in rows:
        if row.daemon == daemon and row.networks == count:
            value = getattr(row, field)
            return float(value) if value is not None else None
    return None


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _table(head: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in body]


def targets(rows: Sequence[Any], counts: Sequence[int]) -> list[str]:
    """Each target of issue 12 with [met] or [NOT met] and the figures."""
    found = []
    low, high = counts[0], counts[-1]
    for field, what in (("start_ms", "net-start"), ("destroy_ms", "net-destroy"),
                        ("update_ms", "net-update")):
        first, last = _get(rows, "rpcnetd", low, field), _get(rows, "rpcnetd", high, field)
        if first and last:
            ratio = last / first
            mark = "met" if ratio <= GROWTH_LIMIT else "NOT met"
            found.append(f"[{mark}] rpcnetd median {what} grows at most {GROWTH_LIMIT}x from "
                         f"{low} to {high} networks: {first:.1f} -> {last:.1f} ms ({ratio:.2f}x)")
    both = [(c, _get(rows, "rpcnetd", c, "start_ms"), _get(rows, "libvirtd", c, "start_ms"))
            for c in counts]
    both = [(c, ours, theirs) for c, ours, theirs in both if ours and theirs]
    if both:
        slower = [c for c, ours, theirs in both if ours > theirs]  # type: ignore[operator]
        figures = ", ".join(f"{c}: {ours:.1f} vs {theirs:.1f} ms" for c, ours, theirs in both)
        found.append(f"[{'NOT met' if slower else 'met'}] rpcnetd net-start at or below "
                     f"libvirtd's at every count measured for both ({figures})")
    answer = _get(rows, "rpcnetd", high, "restart_answer_s")
    if answer is not None:
        found.append(f"[{'met' if answer <= ANSWER_LIMIT_S else 'NOT met'}] restarted rpcnetd "
                     f"answers within {ANSWER_LIMIT_S:g} s with {high} networks: {answer:.2f} s")
    for field, what in (("restart_done_s", "restart"), ("reload_done_s", "SIGHUP")):
        done = _get(rows, "rpcnetd", high, field)
        if done is not None:
            mark = "met" if done <= REASSERT_LIMIT_S else "NOT met"
            found.append(f"[{mark}] rpcnetd re-asserts every network within "
                         f"{REASSERT_LIMIT_S:g} s after {what} with {high} networks: {done:.2f} s")
    return found


def tables(rows: Sequence[Any], counts: Sequence[int], elapsed: float) -> str:
    daemons = ["rpcnetd", "libvirtd"]
    out = [f"host-scale run: {os.cpu_count()} CPUs, kernel {platform.release()}, "
           f"load average before {os.getloadavg()[0]:.2f} (at the end), {elapsed:.0f} s", "",
           "Median per call, ms (one more NAT + DHCP network beside N running ones):", ""]
    head = ["running networks"] + [f"{d} {what}" for what in ("start", "destroy", "update")
                                   for d in daemons]
    body = [[f"{c:,}"] + [_fmt(_get(rows, d, c, f"{what}_ms")) for what in
                          ("start", "destroy", "update") for d in daemons] for c in counts]
    out += _table(head, body)
    out += ["", "Restart and SIGHUP reload, seconds (from the daemon's start or the signal):", ""]
    fields = [("rpcnetd", "restart_answer_s", "rpcnetd answers"),
              ("rpcnetd", "restart_firewall_s", "rpcnetd firewall back"),
              ("rpcnetd", "restart_done_s", "rpcnetd all re-asserted"),
              ("libvirtd", "restart_answer_s", "libvirtd answers"),
              ("libvirtd", "restart_firewall_s", "libvirtd firewall back"),
              ("rpcnetd", "reload_done_s", "rpcnetd SIGHUP all re-asserted"),
              ("libvirtd", "reload_done_s", "libvirtd SIGHUP firewall back")]
    body = [[f"{c:,}"] + [_fmt(_get(rows, d, c, f), 2) for d, f, _ in fields] for c in counts]
    out += _table(["running networks"] + [label for _, _, label in fields], body)
    out += ["", "Targets (issue 12):", ""] + [f"- {line}" for line in targets(rows, counts)]
    return "\n".join(out) + "\n"


def plot(rows: Sequence[Any], counts: Sequence[int]) -> str:
    """Two charts: per-call medians, and restart/reload times."""
    calls = Chart("net-start / destroy / update (median)", "running networks", "ms", counts)
    for daemon, dashed in (("rpcnetd", False), ("libvirtd", True)):
        for colour, what in enumerate(("start", "destroy", "update")):
            calls.series.append(Series(f"{daemon} net-{what}",
                                       [_get(rows, daemon, c, f"{what}_ms") for c in counts],
                                       dashed=dashed, colour=colour))
    first = _get(rows, "rpcnetd", counts[0], "start_ms")
    if first:
        calls.targets.append(Target(f"{GROWTH_LIMIT}x rpcnetd net-start at {counts[0]}",
                                    first * GROWTH_LIMIT))
    restart = Chart("restart and SIGHUP", "running networks", "seconds", counts)
    for daemon, field, label, colour in (
            ("rpcnetd", "restart_answer_s", "rpcnetd restart: answers", 0),
            ("rpcnetd", "restart_done_s", "rpcnetd restart: all re-asserted", 1),
            ("rpcnetd", "reload_done_s", "rpcnetd SIGHUP: all re-asserted", 2),
            ("libvirtd", "restart_answer_s", "libvirtd restart: answers", 0),
            ("libvirtd", "restart_firewall_s", "libvirtd restart: firewall back", 1),
            ("libvirtd", "reload_done_s", "libvirtd SIGHUP: firewall back", 2)):
        values = [_get(rows, daemon, c, field) for c in counts]
        if any(v is not None for v in values):
            restart.series.append(Series(label, values, dashed=daemon == "libvirtd",
                                         colour=colour))
    restart.targets += [Target("1 s: answers", ANSWER_LIMIT_S),
                        Target("10 s: re-asserted", REASSERT_LIMIT_S)]
    charts = [calls] + ([restart] if restart.series else [])
    return page(charts)
