"""Regenerate the libvirt reference outputs in this folder.

Run with the system python that has the libvirt bindings:
``/usr/bin/python3 tests/data/netxml/capture_libvirt.py``. It uses the
in-process ``test:///default`` driver, which runs libvirt's own network XML
parser and formatter (but fills no bridge-driver defaults).
"""

import json
import pathlib

import libvirt

HERE = pathlib.Path(__file__).parent
VALIDATE = 1


def error(exc):
    return [exc.get_error_code(), exc.get_error_domain(), exc.get_error_message()]


def define_all(conn):
    results = {}
    for path in sorted((HERE / "define").glob("*.xml")):
        entry = {}
        for flags in (0, VALIDATE):
            key = "validate" if flags else "plain"
            try:
                net = conn.networkDefineXMLFlags(path.read_text(), flags)
            except libvirt.libvirtError as exc:
                entry[key] = {"error": error(exc)}
                continue
            entry[key] = {"xml": net.XMLDesc(0)}
            net.undefine()
        results[path.name] = entry
    (HERE / "define.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


def update_all(conn):
    """Each case is [command, section, parent index, xml] applied to
    update_base.xml, or with a fifth item naming another base file here."""
    cases = json.loads((HERE / "update_cases.json").read_text())
    out = []
    for cmd, section, index, xml, *rest in cases:
        base = rest[0] if rest else "update_base.xml"
        net = conn.networkDefineXML((HERE / base).read_text())
        case = {"command": cmd, "section": section, "index": index, "xml": xml}
        if rest:
            case["base"] = base
        try:
            net.update(cmd, section, index, xml, 0)
            case["result"] = net.XMLDesc(0)
        except libvirt.libvirtError as exc:
            case["error"] = error(exc)
        net.undefine()
        out.append(case)
    (HERE / "update.json").write_text(json.dumps(out, indent=1) + "\n")


def main():
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    conn = libvirt.open("test:///default")
    # the test driver ships a "default" network; ours is defined in its place
    builtin = conn.networkLookupByName("default")
    if builtin.isActive():
        builtin.destroy()
    builtin.undefine()
    define_all(conn)
    update_all(conn)


if __name__ == "__main__":
    main()
