"""Parsing text into lxml trees with libvirt-shaped syntax errors, and the
small attribute readers the parsers share."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterable

from lxml import etree

from rpcnet.errors import ErrorCode, VirError, network_error

from ._errors import bad_attr_value, zero_not_permitted

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
    return network_error(ErrorCode.XML_DETAIL, f"{url}:{line}: {message}\n{context}\n{caret}")


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


def strtoul(
    text: str, *, base: int = 10, limit: int = 0xFFFFFFFF, negative: bool = True
) -> int | None:
    """C's strtoul as libvirt's virStrToLong_ui uses it on a whole string:
    leading blanks, a sign, a 0x/0 prefix with ``base`` 0; a negative number
    wraps (so "-1" is ``limit``) unless ``negative`` is False (the "p"
    variants refuse it); None when it is not a number or too big."""
    rest = text.lstrip(" \t\n\v\f\r")
    if rest[:1] == "-" and not negative:
        return None
    negative = rest[:1] == "-"
    rest = rest[1:] if rest[:1] in "+-" and rest else rest
    if base == 0:
        if rest[:2].lower() == "0x" and len(rest) > 2:
            base, rest = 16, rest[2:]
        elif rest[:1] == "0" and len(rest) > 1:
            base, rest = 8, rest[1:]
        else:
            base = 10
    try:
        if not rest or not rest.isascii() or not rest.isalnum():
            return None
        value = int(rest, base)
    except ValueError:
        return None
    if negative and value:
        value = limit + 1 - value if value <= limit + 1 else limit + 1
    return value if value <= limit else None


def parse_uuid(text: str) -> uuidlib.UUID | None:
    """A UUID as libvirt's virUUIDParse reads it: 32 hex digits with any
    dashes or blanks between pairs, blanks around."""
    digits: list[str] = []
    rest = text.strip(" \t\n\v\f\r")
    index = 0
    while len(digits) < 32:
        if index >= len(rest):
            return None
        char = rest[index]
        if char in "- " and len(digits) % 2 == 0:
            index += 1
            continue
        if char not in "0123456789abcdefABCDEF":
            return None
        digits.append(char)
        index += 1
    if rest[index:].strip(" \t\n\v\f\r"):
        return None
    return uuidlib.UUID("".join(digits))


_ESCAPES = str.maketrans({"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;"})

Attrs = Iterable[tuple[str, object | None]]


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def attrs_text(attrs: Attrs) -> str:
    return "".join(f" {key}='{escape(str(value))}'" for key, value in attrs if value is not None)


def element(indent: int, tag: str, attrs: Attrs = (), body: list[str] | None = None) -> list[str]:
    """Lines of one element: self-closing when ``body`` is None, else open,
    the body lines, close."""
    pad = "  " * indent
    if body is None:
        return [f"{pad}<{tag}{attrs_text(attrs)}/>"]
    return [f"{pad}<{tag}{attrs_text(attrs)}>", *body, f"{pad}</{tag}>"]


def text_element(indent: int, tag: str, text: str) -> str:
    return f"{'  ' * indent}<{tag}>{escape(text)}</{tag}>"


