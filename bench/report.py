"""Format a run's results as Markdown tables, with ratios and the targets."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .load import Sample
    from .run import Results

_WORKLOAD_NAMES = {"lookup": "lookup+is-active", "xml": "get-xml-desc"}
#: rpcnetd with --metrics, scraped every second (``--metrics``)
METRICS = "rpcnetd+metrics"


def _workload(label: str) -> str:
    if label.startswith("list"):
        return f"list-all ({label[4:]} nets)"
    return _WORKLOAD_NAMES.get(label, label)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    rows = list(rows)
    widths = [max(len(str(cell)) for cell in col) for col in zip(header, *rows, strict=True)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(c.rjust(w) if c[:1].isdigit() or c == "-" else c.ljust(w)
                                         for c, w in zip(row, widths, strict=True)) + " |")
    return lines


def _ratio(a: float | None, b: float | None) -> float:
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return float("nan")
    return a / b


def _fmt_ratio(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}x"


def _rate(sample: Sample | None) -> float | None:
    return None if sample is None else sample.rate


def throughput_table(results: Results) -> list[str]:
    servers = results.servers
    header = ["workload", "load", "conns", *(f"{s} calls/s" for s in servers)]
    if METRICS in servers:
        header.append("metrics on/off")
    if "libvirtd" in servers:
        header.append("rpcnetd/libvirtd")
    header.append("rpcnetd/ceiling")
    rows = []
    for (label, loadgen, conns), row in results.throughput.items():
        cells = [_workload(label), loadgen, str(conns)]
        cells += [f"{row[s].rate:,.0f}" if s in row else "-" for s in servers]
        mine = _rate(row.get("rpcnetd"))
        if METRICS in servers:
            cells.append(_fmt_ratio(_ratio(_rate(row.get(METRICS)), mine)))
        if "libvirtd" in servers:
            cells.append(_fmt_ratio(_ratio(mine, _rate(row.get("libvirtd")))))
        cells.append(_fmt_ratio(_ratio(mine, _rate(row.get("ceiling")))))
        rows.append(cells)
    return _table(header, rows)


def latency_table(results: Results) -> list[str]:
    servers = results.servers
    header = ["workload", "load", "conns"]
    for s in servers:
        header += [f"{s} p50 µs", f"{s} p99 µs"]
    rows = []
    for (label, loadgen, conns), row in results.throughput.items():
        if conns not in results.plan.latency_conns:
            continue
        cells = [_workload(label), loadgen, str(conns)]
        for s in servers:
            sample = row.get(s)
            cells += ([f"{sample.percentile(50):,.0f}", f"{sample.percentile(99):,.0f}"]
                      if sample is not None else ["-", "-"])
        rows.append(cells)
    return _table(header, rows)


def client_table(results: Results) -> list[str]:
    """rpcnet's client against the bindings, on the same server and load."""
    if "bindings" not in results.loadgens:
        return []
    servers = results.servers
    header = ["workload", "conns", *(f"{s}: rpcnet/bindings" for s in servers)]
    rows = []
    for (label, loadgen, conns), row in results.throughput.items():
        if loadgen != "rpcnet":
            continue
        other = results.throughput.get((label, "bindings", conns), {})
        rows.append([_workload(label), str(conns)] + [
            _fmt_ratio(_ratio(_rate(row.get(s)), _rate(other.get(s)))) for s in servers])
    return _table(header, rows)


def scale_table(results: Results) -> list[str]:
    daemons = list(results.scale) or list(results.connections)
    plan = results.plan
    n = plan.scale_networks
    lines: list[tuple[str, Callable[[str], str]]] = [
        (f"list-all of {n:,} networks, raw socket (ms)",
         lambda d: f"{results.scale[d]['list_raw_ms']:.1f}"),
        (f"list-all of {n:,} networks, rpcnet client (ms)",
         lambda d: f"{results.scale[d]['list_rpcnet_ms']:.1f}"),
        (f"list-all of {n:,} networks, Python bindings (ms)",
         lambda d: f"{results.scale[d].get('list_bindings_ms', math.nan):.1f}"),
        ("daemon RSS per defined network (KiB)",
         lambda d: f"{results.scale[d]['rss_per_network'] / 1024:.2f}"),
        (f"daemon RSS with {n:,} networks (MiB)",
         lambda d: f"{results.scale[d]['rss'] / 2**20:.1f}"),
        ("define-xml calls/s (pipelined)", lambda d: f"{results.scale[d]['define_rate']:,.0f}"),
        (f"{plan.idle_connections:,} idle keepalive connections: daemon RSS (MiB)",
         lambda d: f"{results.connections[d].idle.rss_after / 2**20:.1f}"),
        ("  RSS per idle connection (KiB)",
         lambda d: f"{results.connections[d].idle.per_connection / 1024:.1f}"),
        (f"  daemon CPU while idle over {plan.idle_seconds:g} s (%)",
         lambda d: f"{results.connections[d].idle.cpu_percent:.2f}"),
        (f"one event to {plan.idle_connections:,} subscribers, last received (ms)",
         lambda d: f"{1000 * results.connections[d].fan_out:.1f}"),
    ]
    rows = []
    for title, cell in lines:
        rows.append([title] + [_safe(cell, d) for d in daemons])
    return _table(["scale", *daemons], rows)


def _safe(cell: Callable[[str], str], daemon: str) -> str:
    try:
        return cell(daemon)
    except KeyError:
        return "-"


def _get(results: Results, label: str, loadgen: str, conns: int, server: str) -> float | None:
    return _rate(results.throughput.get((label, loadgen, conns), {}).get(server))


def targets(results: Results) -> list[str]:
    """Each target of issue 6 with the figures that decide it."""
    plan, out = results.plan, []
    labels = list(dict.fromkeys(label for label, _, _ in results.throughput))
    top = 16 if 16 in plan.conns else max(plan.conns)

    def check(name: str, ok: bool, detail: str) -> None:
        out.append(f"- [{'met' if ok else 'NOT met'}] {name}: {detail}")

    def ratios(fn: Callable[[str], float]) -> tuple[bool, str]:
        values = {label: fn(label) for label in labels}
        valid = [v for v in values.values() if not math.isnan(v)]
        text = ", ".join(f"{_workload(k)} {_fmt_ratio(v)}" for k, v in values.items())
        return bool(valid), text

    if "libvirtd" in results.servers and "bindings" in results.loadgens:
        _, text = ratios(lambda lb: _ratio(_get(results, lb, "bindings", top, "rpcnetd"),
                                           _get(results, lb, "bindings", top, "libvirtd")))
        first = _ratio(_get(results, "lookup", "bindings", top, "rpcnetd"),
                       _get(results, "lookup", "bindings", top, "libvirtd"))
        check(f"rpcnetd >= 1.5x libvirtd calls/s, {top} conns, bindings load (lookup)",
              first >= 1.5, text)
    if "libvirtd" in results.servers:
        for loadgen in results.loadgens:
            row = results.throughput.get(("lookup", loadgen, 1), {})
            if "rpcnetd" in row and "libvirtd" in row:
                a, b = row["rpcnetd"].percentile(50), row["libvirtd"].percentile(50)
                check(f"rpcnetd p50 <= libvirtd p50 at 1 conn ({loadgen} load, lookup)",
                      a <= b, f"{a:,.0f} µs vs {b:,.0f} µs")
    if "bindings" in results.loadgens:
        for n in plan.conns:  # where both generators saturate the server, the ratio is ~1
            def of_bindings(label: str, n: int = n) -> float:
                return _ratio(_get(results, label, "rpcnet", n, "rpcnetd"),
                              _get(results, label, "bindings", n, "rpcnetd"))

            _, text = ratios(of_bindings)
            check(f"rpcnet client >= 2x bindings calls/s against rpcnetd, {n} conns (lookup)",
                  of_bindings("lookup") >= 2, text)
    for loadgen in results.loadgens:
        value = _ratio(_get(results, "lookup", loadgen, top, "rpcnetd"),
                       _get(results, "lookup", loadgen, top, "ceiling"))
        def of_ceiling(label: str, loadgen: str = loadgen) -> float:
            return _ratio(_get(results, label, loadgen, top, "rpcnetd"),
                          _get(results, label, loadgen, top, "ceiling"))

        _, text = ratios(of_ceiling)
        check(f"rpcnetd >= 70% of the ceiling, {top} conns, {loadgen} load (lookup)",
              value >= 0.7, text)
    scale = results.scale.get("rpcnetd")
    if scale is not None:
        ms = scale["list_rpcnet_ms"]
        check(f"list-all of {plan.scale_networks:,} networks < 50 ms (rpcnet client)",
              ms < 50, f"{ms:.1f} ms (raw socket {scale['list_raw_ms']:.1f} ms)")
    conns = results.connections.get("rpcnetd")
    if conns is not None:
        mib = conns.idle.rss_after / 2**20
        check(f"{plan.idle_connections:,} idle connections < 100 MB daemon RSS", mib < 100,
              f"{mib:.1f} MiB")
        ms = 1000 * conns.fan_out
        check(f"fan-out to {plan.idle_connections:,} subscribers < 100 ms", ms < 100,
              f"{ms:.1f} ms")
    return out


def scrape_lines(seconds: list[float]) -> list[str]:
    """How long the scrapes took (they grow with the networks defined)."""
    ordered = sorted(seconds)
    median = ordered[len(ordered) // 2]
    return [f"{len(ordered)} scrapes: median {1000 * median:.1f} ms, "
            f"max {1000 * ordered[-1]:.1f} ms"]


def render(results: Results, machine: str, elapsed: float) -> str:
    plan = results.plan
    parts = [
        f"# rpcnet benchmark ({'quick' if plan.duration < 0.5 else 'full'} run, "
        f"{elapsed:.0f} s)",
        "",
        f"machine: {machine}",
        f"servers: {', '.join(results.servers)}; load generators: {', '.join(results.loadgens)};"
        f" {plan.duration:g} s per cell after {plan.warmup:g} s warm-up;"
        f" {plan.load_processes} process(es) per load generator",
        "",
        "## Throughput (calls/s)",
        "",
        *throughput_table(results),
        "",
        "## Latency per call",
        "",
        *latency_table(results),
        "",
    ]
    client = client_table(results)
    if client:
        parts += ["## rpcnet client vs Python bindings (same server)", "", *client, ""]
    if results.scale or results.connections:
        parts += ["## Scale", "", *scale_table(results), ""]
    if results.scrapes:
        parts += ["## Scrapes of rpcnetd+metrics (every second, through the run)", "",
                  *scrape_lines(results.scrapes), ""]
    parts += ["## Targets", "", *targets(results)]
    return "\n".join(parts)
