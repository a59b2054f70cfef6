"""Reading rpcnetd's metrics endpoint as Prometheus would: scrape over HTTP,
parse with prometheus-client's parser, check with the real ``promtool``."""

from __future__ import annotations

import re
import subprocess
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.peers.requirements import need_executable

#: where rpcnetd says it serves them (``--metrics ADDR:0`` picks a free port)
_SERVING = re.compile(r"serving metrics on (http://\S+/metrics)")


def metrics_url(log: str) -> str:
    """The URL of the endpoint, from the daemon's log."""
    found = _SERVING.search(log)
    assert found is not None, f"rpcnetd did not say where it serves metrics:\n{log}"
    return found.group(1)


def scrape(url: str, timeout: float = 15.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        assert response.status == 200
        content_type = response.headers["Content-Type"]
        assert content_type.startswith("text/plain; version=0.0.4"), content_type
        return str(response.read().decode())


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample, keyed by (name, labels)."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def promtool_check(text: str) -> None:
    """``promtool check metrics`` (Debian's prometheus) accepts ``text``."""
    promtool = need_executable("promtool")
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
