"""Certificate distinguished names as libvirt sees them, and its DN allow-list.

libvirt formats a client certificate's subject with GnuTLS's
``gnutls_x509_crt_get_dn`` (what ``virt-pki-query-dn`` prints) and matches
it against the globs of ``tls_allowed_dn_list`` with GLib's
``g_pattern_match_simple``. That format is the certificate's own RDN order
(``C=XX,O=LvTest,CN=client1``, *not* RFC 4514's reversed order), RFC 4514
value escaping, multi-valued RDNs joined with ``+``, GnuTLS's attribute
names, and ``OID=#hex`` (the DER of the value) for attributes GnuTLS has no
name for. The globs know only ``*`` and ``?``; everything else is literal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography import x509

if TYPE_CHECKING:
    _Attribute = x509.NameAttribute[str | bytes]

#: GnuTLS's names for attribute OIDs, checked against ``virt-pki-query-dn``.
GNUTLS_NAMES: dict[str, str] = {
    "2.5.4.6": "C",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.3": "CN",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "street",
    "2.5.4.17": "postalCode",
    "2.5.4.5": "serialNumber",
    "2.5.4.12": "title",
    "2.5.4.4": "surName",
    "2.5.4.42": "givenName",
    "2.5.4.43": "initials",
    "2.5.4.44": "generationQualifier",
    "2.5.4.46": "dnQualifier",
    "2.5.4.65": "pseudonym",
    "2.5.4.15": "businessCategory",
    "2.5.4.41": "name",
    "2.5.4.13": "description",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
    "1.2.840.113549.1.9.1": "EMAIL",
    "1.3.6.1.4.1.311.60.2.1.1": "jurisdictionOfIncorporationLocalityName",
    "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionOfIncorporationStateOrProvinceName",
    "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionOfIncorporationCountryName",
    "1.3.6.1.5.5.7.9.2": "placeOfBirth",
}
#: Named attributes GnuTLS prints as text only when they are PrintableStrings.
GNUTLS_PRINTABLE_NAMES: dict[str, str] = {
    "2.5.4.20": "telephoneNumber",
    "1.3.6.1.5.5.7.9.3": "gender",
    "1.3.6.1.5.5.7.9.4": "countryOfCitizenship",
    "1.3.6.1.5.5.7.9.5": "countryOfResidence",
}
_PRINTABLE_STRING = 19

# ASN.1 string tags and how their contents are encoded
_ENCODINGS = {12: "utf-8", 30: "utf-16-be", 28: "utf-32-be"}


def _tag(attr: _Attribute) -> int:
    return int(getattr(attr, "_type").value)  # noqa: B009 - no public accessor


def _der_value(attr: _Attribute) -> bytes:
    """The DER TLV of an attribute value (GnuTLS prints unnamed ones as hex of it)."""
    tag = _tag(attr)
    value = attr.value
    body = value if isinstance(value, bytes) else value.encode(_ENCODINGS.get(tag, "latin-1"))
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + body


def _attribute(attr: _Attribute) -> str:
    dotted = attr.oid.dotted_string
    name = GNUTLS_NAMES.get(dotted)
    if name is None and dotted in GNUTLS_PRINTABLE_NAMES:
        name = GNUTLS_PRINTABLE_NAMES[dotted]
        if _tag(attr) != _PRINTABLE_STRING:
            return f"{name}=#{_der_value(attr).hex()}"
    if name is None:
        return f"{dotted}=#{_der_value(attr).hex()}"
    return attr.rfc4514_string({attr.oid: name})


def format_dn(name: x509.Name) -> str:
    """``name`` in the format ``virt-pki-query-dn`` prints, e.g. ``C=XX,O=LvTest,CN=c1``."""
    return ",".join("+".join(_attribute(a) for a in rdn) for rdn in name.rdns)


def certificate_dn(cert: x509.Certificate) -> str:
    """The subject DN of ``cert`` in libvirt's allow-list format."""
    return format_dn(cert.subject)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


class DnAllowList:
    """libvirt's ``tls_allowed_dn_list``: ``None`` allows every DN, ``[]`` none."""

    def __init__(self, patterns: Sequence[str] | None) -> None:
        self.patterns = None if patterns is None else tuple(patterns)
        self._regexes = [_glob_regex(p) for p in self.patterns or ()]

    def allows(self, dn: str) -> bool:
        if self.patterns is None:
            return True
        return any(r.fullmatch(dn) for r in self._regexes)
