"""Frames captured between real libvirt 9.0 clients and libvirtd (tests/data/vectors)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parent.parent / "data" / "vectors"


@dataclass(frozen=True)
class Frame:
    capture: str
    index: int
    direction: str
    raw: bytes
    summary: str
    decoded: Any


def frames(capture: str | None = None) -> Iterator[Frame]:
    paths = [VECTORS / f"{capture}.jsonl"] if capture else sorted(VECTORS.glob("*.jsonl"))
    for path in paths:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if "i" not in record:
                continue
            yield Frame(path.stem, record["i"], record["dir"], bytes.fromhex(record["hex"]),
                        record["summary"], record.get("decoded"))
