"""Per-process and per-user limits that grow with the number of networks.

- Open files: rpcnetd watches each network's dnsmasq through a pidfd, so
  1,000 networks need more than the usual soft limit of 1,024 descriptors.
  The soft limit is raised to the hard one at start: the daemon's own
  limit, nothing host-wide (dnsmasq closes what it inherits through
  /proc/self/fd, so a high limit costs its children nothing).
- inotify instances: ``fs.inotify.max_user_instances`` (128 by default) is
  per user, host-wide. rpcnet's dnsmasq need none (see :mod:`.dnsmasq_conf`);
  where one is still refused, the error names the limit and the sysctl.
"""

from __future__ import annotations

import logging
import resource
from pathlib import Path

log = logging.getLogger(__name__)

INOTIFY_SYSCTL = "fs.inotify.max_user_instances"


def raise_open_files() -> None:
    """Raise this process's soft limit of open files to its hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the limit of open files from %d to %d: %s "
                        "(each running network's dnsmasq is watched through one)",
                        soft, target, exc)


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return "?"


def inotify_limit_hint() -> str:
    """What an inotify instance refused with EMFILE ran into, with the values."""
    host = _read("/proc/sys/fs/inotify/max_user_instances")
    here = _read("/proc/sys/user/max_inotify_instances")  # this user namespace's
    ns = f"; in this user namespace user.max_inotify_instances = {here}" if here != host else ""
    return (f"the per-user limit of inotify instances is reached (sysctl {INOTIFY_SYSCTL} "
            f"= {host}{ns}; raise it, e.g. in /etc/sysctl.d, to run more programs that watch "
            "files as this user)")
