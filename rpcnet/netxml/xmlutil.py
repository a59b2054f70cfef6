"""Parsing text into lxml trees with libvirt-shaped syntax errors, and the
small attribute readers the parsers share."""

from __future__ import annotations

from lxml import etree

from rpcnet.errors import VirError

from ._errors import bad_attr_value, detail_error, zero_not_permitted

_CONTEXT = 80  # libvirt shows at most this many characters each side of the error


def parse_xml(text: str, url: str) -> etree._Element:
    """Parse ``text`` into its root element or raise libvirt's XML_DETAIL error.

    ``url`` is the document name libvirt puts in front of the line number,
    e.g. ``(network_definition)``.
    """
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, remove_comments=True, huge_tree=False
    )
    try:
        return etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        first = parser.error_log[0] if len(parser.error_log) else None
        line = first.line if first is not None else (exc.lineno or 1)
        column = first.column if first is not None else (exc.position[1] if exc.position else 1)
        message = first.message if first is not None else str(exc.msg)
        raise _syntax_error(text, url, line, column, message) from None


def _syntax_error(text: str, url: str, line: int, column: int, message: str) -> VirError:
    lines = text.split("\n")
    if 1 <= line <= len(lines) and lines[line - 1]:
        content = lines[line - 1]
        offset = max(0, min(column - 1, len(content)))
        start = max(0, offset - _CONTEXT)
        context = content[start : offset + _CONTEXT]
        caret = "-" * (offset - start) + "^"
    else:
        context, caret = "(null)", "^"
    return detail_error(f"{url}:{line}: {message}\n{context}\n{caret}")


def attr(elem: etree._Element, name: str) -> str | None:
    value = elem.get(name)
    return None if value is None else str(value)


def yes_no(elem: etree._Element, name: str) -> bool | None:
    """A libvirt tristate ``yes``/``no`` attribute; None when absent."""
    value = attr(elem, name)
    if value is None:
        return None
    if value in ("yes", "no"):
        return value == "yes"
    raise bad_attr_value(name, str(elem.tag), value)


def uint_attr(
    elem: etree._Element, name: str, *, nonzero: bool = False, limit: int = 0xFFFFFFFF
) -> int | None:
    """An unsigned int attribute as libvirt's ``virXMLPropUInt`` reads it
    (leading blanks and '+' allowed, nothing after the digits)."""
    value = attr(elem, name)
    if value is None:
        return None
    digits = value.lstrip(" \t\n\v\f\r").removeprefix("+")
    if not digits.isascii() or not digits.isdigit() or int(digits) > limit:
        raise bad_attr_value(name, str(elem.tag), value, "non-negative integer value")
    if nonzero and int(digits) == 0:
        raise zero_not_permitted(name, str(elem.tag))
    return int(digits)


def parse_uint(text: str | None) -> int | None:
    """Lenient libvirt-style unsigned parse: None when not a plain number."""
    if text is None:
        return None
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        return None
    return int(text)


def children(elem: etree._Element, tag: str) -> list[etree._Element]:
    return [child for child in elem if child.tag == tag]


def text_of(elem: etree._Element | None) -> str | None:
    if elem is None:
        return None
    return "".join(str(part) for part in elem.itertext())
