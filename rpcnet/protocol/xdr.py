"""XDR (RFC 4506) type codecs on top of xdrlib3, compiled once per type.

Theory of operation: every XDR type is an :class:`XdrType` holding two plain
functions, ``pack(packer, value)`` and ``unpack(unpacker) -> value``, built
when the type is declared (at import time). Composite types close over the
functions of their members, and structs are compiled to straight-line code,
so encoding or decoding a message does no reflection and no per-field
dictionary lookups.

Decoding is defensive: every length is checked against its declared maximum
and against the bytes actually left before anything is allocated, and any
malformed input raises :class:`XdrError` (never another exception type).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

from xdrlib3 import ConversionError, Packer, Unpacker
from xdrlib3 import Error as XdrlibError

PackFn = Callable[[Packer, Any], None]
UnpackFn = Callable[[Unpacker], Any]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_UINT_MAX = 2**32 - 1
_HYPER_MIN, _HYPER_MAX = -(2**63), 2**63 - 1
_UHYPER_MAX = 2**64 - 1


class XdrError(ValueError):
    """Bytes that are not a valid encoding of the expected type, or a value
    that cannot be encoded as it."""


class XdrType:
    """A compiled XDR type: ``pack``/``unpack`` functions plus metadata.

    ``min_size`` is the fewest bytes one encoded value can take; arrays use
    it to refuse counts the remaining input cannot possibly hold.
    """

    __slots__ = ("fields", "min_size", "name", "pack", "to_bytes", "unpack")

    def __init__(self, name: str, pack: PackFn, unpack: UnpackFn, min_size: int,
                 fields: tuple[tuple[str, XdrType], ...] = (),
                 to_bytes: Callable[[Any], bytes] | None = None) -> None:
        self.name = name
        self.pack = pack
        self.unpack = unpack
        self.min_size = min_size
        #: a struct's members, for introspection (the codecs never read it)
        self.fields = fields
        #: value -> its encoding, when the type has a faster way than ``pack``
        self.to_bytes = to_bytes

    def __repr__(self) -> str:
        return f"<XdrType {self.name}>"

    def encode(self, value: Any) -> bytes:
        """Encode one value to bytes; raises :class:`XdrError`."""
        packer = Packer()
        try:
            self.pack(packer, value)
        except XdrError:
            raise
        except (ConversionError, struct.error, TypeError, AttributeError, ValueError) as exc:
            raise XdrError(f"cannot encode {self.name}: {exc}") from None
        return packer.get_buffer()

    def decode(self, data: bytes, *, exact: bool = True) -> Any:
        """Decode one value from ``data``; trailing bytes are an error if ``exact``
        (libvirt's own decoder ignores them, so a server passes ``exact=False``)."""
        unpacker = Unpacker(data)
        value = self.decode_from(unpacker)
        if exact and unpacker.get_position() != len(data):
            left = len(data) - unpacker.get_position()
            raise XdrError(f"{left} trailing bytes after {self.name}")
        return value

    def decode_from(self, unpacker: Unpacker) -> Any:
        """Decode one value from the current position of ``unpacker``."""
        try:
            return self.unpack(unpacker)
        except XdrError:
            raise
        except (EOFError, XdrlibError, struct.error, ValueError) as exc:
            raise XdrError(f"cannot decode {self.name}: {exc or 'truncated'}") from None


def _remaining(u: Unpacker) -> int:
    return len(u.get_buffer()) - u.get_position()


def _checked_int(lo: int, hi: int, name: str, pack: Callable[[Packer, int], None]) -> PackFn:
    def pack_checked(p: Packer, v: int) -> None:
        if not lo <= v <= hi:
            raise XdrError(f"{name} out of range: {v}")
        pack(p, v)

    return pack_checked


INT = XdrType("int", _checked_int(_INT_MIN, _INT_MAX, "int", Packer.pack_int),
              Unpacker.unpack_int, 4)
UINT = XdrType("uint", _checked_int(0, _UINT_MAX, "uint", Packer.pack_uint),
               Unpacker.unpack_uint, 4)
HYPER = XdrType("hyper", _checked_int(_HYPER_MIN, _HYPER_MAX, "hyper",
                                      lambda p, v: p.pack_uhyper(v & _UHYPER_MAX)),
                Unpacker.unpack_hyper, 8)
UHYPER = XdrType("uhyper", _checked_int(0, _UHYPER_MAX, "uhyper", Packer.pack_uhyper),
                 Unpacker.unpack_uhyper, 8)
DOUBLE = XdrType("double", Packer.pack_double, Unpacker.unpack_double, 8)


def _pack_bool(p: Packer, v: bool) -> None:
    p.pack_bool(v)


def _unpack_bool(u: Unpacker) -> bool:
    # Like libvirt's xdr_bool (libtirpc), any non-zero word is true; go-libvirt
    # relies on this when it opens a connection.
    return u.unpack_int() != 0


BOOL = XdrType("bool", _pack_bool, _unpack_bool, 4)
VOID = XdrType("void", lambda p, v: None, lambda u: None, 0)


def opaque(maximum: int) -> XdrType:
    """Variable-length opaque data ``opaque<maximum>`` as ``bytes``."""

    def pack(p: Packer, v: bytes) -> None:
        if len(v) > maximum:
            raise XdrError(f"opaque of {len(v)} bytes exceeds maximum {maximum}")
        p.pack_opaque(v)

    def unpack(u: Unpacker) -> bytes:
        n = u.unpack_uint()
        if n > maximum:
            raise XdrError(f"opaque length {n} exceeds maximum {maximum}")
        return bytes(u.unpack_fopaque(n))

    return XdrType(f"opaque<{maximum}>", pack, unpack, 4)


def fixed_opaque(size: int) -> XdrType:
    """Fixed-length opaque data ``opaque[size]`` as ``bytes``."""

    def pack(p: Packer, v: bytes) -> None:
        if len(v) != size:
            raise XdrError(f"fixed opaque needs {size} bytes, got {len(v)}")
        p.pack_fopaque(size, v)

    def unpack(u: Unpacker) -> bytes:
        return bytes(u.unpack_fopaque(size))

    return XdrType(f"opaque[{size}]", pack, unpack, (size + 3) // 4 * 4)


def string(maximum: int) -> XdrType:
    """``string<maximum>`` as ``str``.

    Bytes that are not UTF-8 survive a round trip (surrogateescape), since C
    strings on the wire carry no encoding guarantee.
    """

    def pack(p: Packer, v: str) -> None:
        data = v.encode("utf-8", "surrogateescape")
        if len(data) > maximum:
            raise XdrError(f"string of {len(data)} bytes exceeds maximum {maximum}")
        p.pack_string(data)

    def unpack(u: Unpacker) -> str:
        n = u.unpack_uint()
        if n > maximum:
            raise XdrError(f"string length {n} exceeds maximum {maximum}")
        return u.unpack_fstring(n).decode("utf-8", "surrogateescape")

    return XdrType(f"string<{maximum}>", pack, unpack, 4)


def optional(inner: XdrType) -> XdrType:
    """An XDR optional pointer ``T *``: ``None`` or a value of ``inner``."""
    inner_pack, inner_unpack = inner.pack, inner.unpack

    def pack(p: Packer, v: Any) -> None:
        if v is None:
            p.pack_uint(0)
        else:
            p.pack_uint(1)
            inner_pack(p, v)

    def unpack(u: Unpacker) -> Any:
        # xdr_pointer reads its discriminant with xdr_bool: non-zero means present
        if u.unpack_uint() == 0:
            return None
        return inner_unpack(u)

    return XdrType(f"{inner.name}*", pack, unpack, 4)


def array(inner: XdrType, maximum: int) -> XdrType:
    """Variable-length array ``T<maximum>`` as a ``list``."""
    inner_pack, inner_unpack, to_bytes = inner.pack, inner.unpack, inner.to_bytes
    min_size = inner.min_size

    def pack(p: Packer, v: Sequence[Any]) -> None:
        if len(v) > maximum:
            raise XdrError(f"array of {len(v)} items exceeds maximum {maximum}")
        p.pack_uint(len(v))
        if to_bytes is not None:  # one write for the whole array
            data = b"".join(map(to_bytes, v))
            p.pack_fopaque(len(data), data)
            return
        for item in v:
            inner_pack(p, item)

    def unpack(u: Unpacker) -> list[Any]:
        n = u.unpack_uint()
        if n > maximum:
            raise XdrError(f"array count {n} exceeds maximum {maximum}")
        if n * min_size > _remaining(u):
            raise XdrError(f"array count {n} exceeds the data left")
        return [inner_unpack(u) for _ in range(n)]

    return XdrType(f"{inner.name}<{maximum}>", pack, unpack, 4)


def enum(name: str, values: Sequence[int]) -> XdrType:
    """An XDR enum: an int restricted to ``values``."""
    allowed = frozenset(values)

    def pack(p: Packer, v: int) -> None:
        if v not in allowed:
            raise XdrError(f"{v} is not a value of enum {name}")
        p.pack_int(v)

    def unpack(u: Unpacker) -> int:
        v = u.unpack_int()
        if v not in allowed:
            raise XdrError(f"{v} is not a value of enum {name}")
        return v

    return XdrType(name, pack, unpack, 4)


def union(name: str, discriminant: XdrType, arms: dict[int, XdrType]) -> XdrType:
    """A discriminated union, as a ``(discriminant, value)`` tuple."""
    disc_pack, disc_unpack = discriminant.pack, discriminant.unpack
    packers = {k: t.pack for k, t in arms.items()}
    unpackers = {k: t.unpack for k, t in arms.items()}

    def pack(p: Packer, v: tuple[int, Any]) -> None:
        kind, value = v
        arm = packers.get(kind)
        if arm is None:
            raise XdrError(f"{kind} is not an arm of union {name}")
        disc_pack(p, kind)
        arm(p, value)

    def unpack(u: Unpacker) -> tuple[int, Any]:
        kind = disc_unpack(u)
        arm = unpackers.get(kind)
        if arm is None:
            raise XdrError(f"{kind} is not an arm of union {name}")
        return kind, arm(u)

    min_size = discriminant.min_size + min((t.min_size for t in arms.values()), default=0)
    return XdrType(name, pack, unpack, min_size)


def struct_type(
    name: str,
    fields: Sequence[tuple[str, XdrType]],
    factory: Callable[..., Any] | None = None,
) -> XdrType:
    """An XDR struct, compiled into straight-line pack/unpack code.

    With ``factory`` (e.g. a dataclass) values are built as
    ``factory(*fields)`` and packed by attribute; without it, values are
    tuples in field order.
    """
    namespace: dict[str, Any] = {"factory": factory}
    pack_lines, unpack_args = [], []
    for i, (field, ftype) in enumerate(fields):
        namespace[f"p{i}"] = ftype.pack
        namespace[f"u{i}"] = ftype.unpack
        source = f"v.{field}" if factory is not None else f"v[{i}]"
        pack_lines.append(f"    p{i}(p, {source})")
        unpack_args.append(f"u{i}(u)")
    if factory is not None:
        unpack_body = f"    return factory({', '.join(unpack_args)})"
    elif len(fields) == 1:
        unpack_body = f"    return ({unpack_args[0]},)"
    else:
        unpack_body = f"    return ({', '.join(unpack_args)})"
    source = "def pack(p, v):\n" + ("\n".join(pack_lines) or "    pass") + "\n"
    source += "def unpack(u):\n" + unpack_body + "\n"
    exec(compile(source, f"<xdr struct {name}>", "exec"), namespace)
    min_size = sum(ftype.min_size for _, ftype in fields)
    return XdrType(name, namespace["pack"], namespace["unpack"], min_size, tuple(fields))


def memoized(inner: XdrType, capacity: int = 1 << 16) -> XdrType:
    """``inner`` with each distinct (hashable, immutable) value encoded once.

    For handles that the same replies carry over and over: a list-all of
    1,000 networks otherwise spends most of its time re-encoding names and
    uuids that have not changed. The cache is dropped whole when full.
    """
    cache: dict[Any, bytes] = {}
    encode = inner.encode

    def to_bytes(v: Any) -> bytes:
        data = cache.get(v)
        if data is None:
            data = encode(v)
            if len(cache) >= capacity:
                cache.clear()
            cache[v] = data
        return data

    def pack(p: Packer, v: Any) -> None:
        data = to_bytes(v)
        p.pack_fopaque(len(data), data)  # already a multiple of 4 bytes: no padding

    return XdrType(inner.name, pack, inner.unpack, inner.min_size, inner.fields, to_bytes)
