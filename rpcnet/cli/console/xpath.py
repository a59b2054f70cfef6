"""``--xpath``/``--wrap`` of the dumpxml commands (lxml is loaded only here)."""

from __future__ import annotations

from lxml import etree


def _node_text(node: object) -> str:
    if isinstance(node, etree._Element):
        return etree.tostring(node, encoding="unicode", pretty_print=True).rstrip("\n")
    if isinstance(node, etree._ElementUnicodeResult) and node.is_attribute:
        return f' {node.attrname!s}="{node}"'
    return str(node)


def select(xml: str, xpath: str, *, wrap: bool) -> str | None:
    """The selected nodes, one per line, or wrapped in ``<nodes>``; None if no node-set."""
    parser = etree.XMLParser(remove_blank_text=True)
    root = etree.fromstring(xml.encode(), parser)
    try:
        result = root.xpath(xpath)
    except etree.XPathError:
        return None
    if not isinstance(result, list):
        return None
    if not wrap:
        return "".join(_node_text(node) + "\n" for node in result)
    nodes = etree.Element("nodes")
    for node in result:
        if isinstance(node, etree._Element):
            nodes.append(_copy(node))
    return etree.tostring(nodes, encoding="unicode", pretty_print=True)


def _copy(node: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(node))
