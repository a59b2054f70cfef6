"""libvirt's own sample config files, as the real daemons ship them.

`.ci/libvirt-conf-samples` fetches `libvirtd.conf` (Debian's) and renders
`virtnetworkd.conf` (libvirt's build does it from the same template) into
`.ci/cache/libvirt/`; `libvirt-daemon` installs `test_libvirtd.aug`, whose
config text sets every libvirtd key. These are libvirt's texts, so they are
fetched, not committed.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.peers.requirements import need

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / ".ci" / "cache" / "libvirt"
AUGEAS_TEST = Path("/usr/share/augeas/lenses/tests/test_libvirtd.aug")


def sample(name: str) -> Path:
    """`libvirtd.conf` or `virtnetworkd.conf` (skip, or fail under CI, if not fetched)."""
    path = SAMPLES / name
    need(path.is_file(), f"needs {path} (run .ci/libvirt-conf-samples)")
    return path


def every_key_set(text: str) -> str:
    """A shipped config with each commented-out setting made active, the way
    libvirt's build makes its augeas tests: a line ``#key...`` loses its
    ``#``, and so do the continuation lines of a list opened by such a line."""
    out: list[str] = []
    in_list = False
    for line in text.splitlines(keepends=True):
        if re.match(r"#\w", line):
            out.append(line[1:])
            in_list = bool(re.search(r"\[\s$", line))
        elif in_list:
            if re.search(r"#\s*\]", line):
                in_list = False
            if line.startswith("#"):
                out.append(line[1:])
    return "".join(out)


def augeas_conf() -> str:
    """The config text of libvirt's `test_libvirtd.aug`: every libvirtd key set."""
    need(AUGEAS_TEST.is_file(), f"needs {AUGEAS_TEST} (package libvirt-daemon)")
    text = AUGEAS_TEST.read_text()
    start = text.index('let conf = "') + len('let conf = "')
    end = text.index('"\n', start)
    while text[end - 1] == "\\":  # an escaped quote at a line end
        end = text.index('"\n', end + 1)
    return text[start:end].replace('\\"', '"')
