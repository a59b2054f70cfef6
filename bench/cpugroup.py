"""The CPU time of a set of processes and everything they start, orphans
included, from a cgroup of their own (v1 ``cpuacct`` or v2 ``cpu.stat``).

Summing ``/proc/PID/stat`` or ``RUSAGE_CHILDREN`` misses what a process does
not wait for: an ssh session's helper that sshd leaves behind, or the ssh a
client does not reap, is counted by neither. A cgroup counts them all. Needs
root.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


def _cpu_hierarchy() -> tuple[Path, bool]:
    """The mount to make groups in, and whether it is cgroup v2."""
    unified = None
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, mount, kind, options = line.split()[:4]
        if kind == "cgroup" and "cpuacct" in options.split(","):
            return Path(mount), False
        if kind == "cgroup2" and unified is None:
            unified = Path(mount)
    if unified is None:
        raise RuntimeError("no cgroup hierarchy accounts CPU time here")
    return unified, True


class CpuGroup:
    """A cgroup ``name`` that processes are put in; :meth:`seconds` is the
    CPU time used in it so far. Removed by :meth:`close` (its processes go
    back to the root group)."""

    def __init__(self, name: str) -> None:
        root, self._v2 = _cpu_hierarchy()
        self._root = root
        self.path = root / name
        self.path.mkdir(exist_ok=True)

    def add(self, pid: int) -> None:
        """Put ``pid`` in the group; what it starts from now on is in it too."""
        (self.path / "cgroup.procs").write_text(f"{pid}\n")

    def join(self) -> None:
        """Put the calling process in the group (as a ``preexec_fn``, so a
        child is in it before it execs): pid 0 is the writer."""
        self.add(0)

    def seconds(self) -> float:
        if self._v2:
            for line in (self.path / "cpu.stat").read_text().splitlines():
                key, value = line.split()
                if key == "usage_usec":
                    return int(value) / 1e6
            return 0.0
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        with contextlib.suppress(OSError):
            for pid in (self.path / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    (self._root / "cgroup.procs").write_text(f"{pid}\n")
            self.path.rmdir()
