"""Taking over a host's libvirt networks: libvirt's persistent definitions
and autostart links, defined into a network service.

libvirt's bridge driver keeps each persistent network as ``DIR/NAME.xml``
(``/etc/libvirt/qemu/networks`` on a host) and marks autostart with a
symlink ``DIR/autostart/NAME.xml`` to it. :func:`read_libvirt_networks`
reads such a directory, changing nothing in it; :func:`import_networks`
defines each network through the service (so its uuid, MAC and bridge are
kept, and libvirt's checks and errors apply: a duplicate uuid or a name
that exists with another uuid is refused) and sets its autostart flag to
what libvirt had. A file libvirt would not load is reported by path and
skipped; the others are imported.

An autostart link counts when it names ``NAME.xml``: libvirt requires it to
point at the config file itself, but a copy of the directory (or one read
through ``/proc/PID/root``) keeps absolute links that point elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rpcnet.driver.base import NetworkDriver
from rpcnet.errors import VirError
from rpcnet.netxml import parse_network

__all__ = ["DEFAULT_SOURCE", "Found", "ImportReport", "import_networks",
           "read_libvirt_networks"]

DEFAULT_SOURCE = Path("/etc/libvirt/qemu/networks")


@dataclass(frozen=True, slots=True)
class Found:
    """One definition file of libvirt's."""

    path: Path
    name: str
    xml: str
    autostart: bool


@dataclass(slots=True)
class ImportReport:
    imported: list[Found] = field(default_factory=list)
    #: (file, why it was not imported)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def read_libvirt_networks(source: Path) -> ImportReport:
    """The definitions under ``source`` (not yet imported: ``imported`` lists
    what was found) and the files skipped, with the reason; raises OSError if
    ``source`` cannot be listed."""
    report = ImportReport()
    for path in sorted(source.iterdir()):
        if path.name.startswith(".") or path.suffix != ".xml" or path.is_dir():
            continue  # libvirt loads *.xml only
        try:
            found = _read_one(path)
        except (OSError, UnicodeDecodeError) as exc:
            report.skipped.append((path, f"cannot read it: {exc}"))
        except VirError as exc:
            report.skipped.append((path, exc.message))
        except ValueError as exc:
            report.skipped.append((path, str(exc)))
        else:
            report.imported.append(found)
    return report


def _read_one(path: Path) -> Found:
    xml = path.read_text(encoding="utf-8")
    name = parse_network(xml).name
    if name != path.stem:
        raise ValueError(f"Network config filename '{path}' does not match network "
                         f"name '{name}'")
    return Found(path, name, xml, _autostart(path))


def _autostart(config: Path) -> bool:
    link = config.parent / "autostart" / config.name
    if not os.path.lexists(link):
        return False
    if not link.is_symlink():
        return True
    return Path(os.readlink(link)).name == config.name


async def import_networks(driver: NetworkDriver, found: list[Found]) -> ImportReport:
    """Define each of ``found`` in ``driver`` and set its autostart flag.
    The ones the driver refuses are skipped with its error."""
    report = ImportReport()
    for item in found:
        try:
            ref = await driver.network_define_xml(item.xml)
            await driver.network_set_autostart(ref, item.autostart)
        except VirError as exc:
            report.skipped.append((item.path, exc.message))
        else:
            report.imported.append(item)
    return report
