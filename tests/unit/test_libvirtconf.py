"""libvirt's config syntax (rpcnet.libvirtconf): values, errors, typed getters."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rpcnet.libvirtconf import (
    MAX_CONF_SIZE,
    ConfError,
    ConfSyntaxError,
    ConfValueError,
    parse_conf,
    read_conf,
)
from tests.peers.libvirt_samples import augeas_conf, every_key_set, sample


def values(text: str) -> dict[str, object]:
    return {entry.name: entry.value for entry in parse_conf(text).entries}


def test_scalars_strings_and_comments() -> None:
    text = """# a comment
unix_sock_dir = "/run/x"   # trailing comment
unix_sock_group='libvirt'
max_clients=5000; keepalive_interval = -1 ;keepalive_count = +3
log_outputs = \"\"\"1:file:/tmp/a
3:stderr\"\"\"
  indented = 1
path = "C:\\no\\escapes"
"""
    assert values(text) == {
        "unix_sock_dir": "/run/x",
        "unix_sock_group": "libvirt",
        "max_clients": 5000,
        "keepalive_interval": -1,
        "keepalive_count": 3,
        "log_outputs": "1:file:/tmp/a\n3:stderr",
        "indented": 1,
        "path": "C:\\no\\escapes",
    }


def test_lists_span_lines_and_nest() -> None:
    text = """tls_allowed_dn_list = [
    "C=GB,O=A",
    'C=GB,O=B',
]
empty = [ ]
nested = [1, ["a", -2],]
"""
    assert values(text) == {
        "tls_allowed_dn_list": ["C=GB,O=A", "C=GB,O=B"],
        "empty": [],
        "nested": [1, ["a", -2]],
    }


def test_statement_lines_are_where_each_starts() -> None:
    conf = parse_conf('a = 1\n\n# c\nb = [\n"x"\n]\nc = """\n\n"""\nd = 2\n')
    assert [(e.name, e.line) for e in conf.entries] == [("a", 1), ("b", 4), ("c", 7), ("d", 10)]


def test_empty_and_comment_only_files() -> None:
    assert parse_conf("").entries == []
    assert parse_conf("# only\n#comments").entries == []


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("a = 1\nb 2\n", 2, "expecting an assignment"),
        ("a = \n", 1, "expecting a value"),
        ("a =", 1, "expecting a value"),
        ("a = x\n", 1, "expecting a value"),
        ("a = 1 2\n", 1, "expecting a separator"),
        ("a = 1x\n", 1, "expecting a separator"),
        ("1a = 2\n", 1, "expecting a name"),
        ("\n", 2, "expecting a name"),
        ("a = -\n", 1, "unterminated number"),
        ('a = "open\n', 1, "unterminated string"),
        ("a = 'open\n", 1, "unterminated string"),
        ('\n\na = """never\nclosed\n', 4, "unterminated string"),
        ("a = [1 2]\n", 1, "expecting a separator in list"),
        ("a = [1,\n# no comments in lists\n2]\n", 2, "expecting a value"),
        ("a = [1,\n2\n", 3, "list is not closed with ]"),
        ("a-b = 1\n", 1, "expecting an assignment"),
        ("a = 1; ;\n", 1, "expecting a name"),
    ],
)
def test_syntax_errors_name_the_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(ConfSyntaxError) as info:
        parse_conf(text, "/etc/x.conf")
    assert (info.value.line, info.value.reason) == (line, reason)
    assert str(info.value) == f"/etc/x.conf:{line}: {reason}"


def test_first_setting_wins() -> None:
    conf = parse_conf("max_clients = 1\nmax_clients = 2\n")
    assert conf.get_uint("max_clients") == 1
    assert conf.names() == ["max_clients"]


def test_typed_getters_check_like_libvirt() -> None:
    conf = parse_conf('s = "x"\nu = 7\nn = -7\nb = 1\nl = ["a", "b"]\nmixed = ["a", 1]\n'
                      "big = 4294967296\ntwo = 2\n", "f.conf")
    assert conf.get_string("s") == "x"
    assert conf.get_uint("u") == 7
    assert conf.get_int("n") == -7
    assert conf.get_int("u") == 7
    assert conf.get_bool("b") is True
    assert conf.get_string_list("l") == ["a", "b"]
    assert conf.get_string("missing") is None
    failures = {
        "f.conf: expected a string for 'u' parameter": lambda: conf.get_string("u"),
        "f.conf: expected an unsigned integer for 'n' parameter": lambda: conf.get_uint("n"),
        "f.conf: expected an unsigned integer for 's' parameter": lambda: conf.get_uint("s"),
        "f.conf: expected a signed integer for 'l' parameter": lambda: conf.get_int("l"),
        "f.conf: expected a bool for 'n' parameter": lambda: conf.get_bool("n"),
        "f.conf: value for 'two' parameter must be 0 or 1": lambda: conf.get_bool("two"),
        "f.conf: expected a string list for 's' parameter": lambda: conf.get_string_list("s"),
        "f.conf: expected a string list for 'mixed' parameter":
            lambda: conf.get_string_list("mixed"),
        "f.conf: value for 'big' parameter must be in range 0:4294967295":
            lambda: conf.get_uint("big"),
    }
    for message, get in failures.items():
        with pytest.raises(ConfValueError) as info:
            get()
        assert str(info.value) == message


def test_read_conf_limits(tmp_path: Path) -> None:
    big = tmp_path / "big.conf"
    big.write_bytes(b"#" * (MAX_CONF_SIZE + 1))
    with pytest.raises(ConfError, match="larger than"):
        read_conf(big)
    latin = tmp_path / "latin.conf"
    latin.write_bytes(b'a = "\xe9"\n')
    with pytest.raises(ConfError, match="not UTF-8"):
        read_conf(latin)
    good = tmp_path / "good.conf"
    good.write_text('unix_sock_dir = "/run/libvirt"\n')
    assert read_conf(good).get_string("unix_sock_dir") == "/run/libvirt"


@pytest.mark.parametrize("name", ["libvirtd.conf", "virtnetworkd.conf"])
def test_libvirts_shipped_files_parse(name: str) -> None:
    """As shipped (every setting commented out) and with every setting made active."""
    text = sample(name).read_text()
    assert parse_conf(text, name).entries == []
    conf = parse_conf(every_key_set(text), name)
    assert conf.get_string("unix_sock_dir") == "/run/libvirt"
    assert conf.get_string_list("access_drivers") == ["polkit"]
    assert conf.get_uint("max_client_requests") == 5
    assert len(conf.names()) >= 30


def test_libvirts_augeas_test_config_parses() -> None:
    conf = parse_conf(augeas_conf(), "test_libvirtd.aug")
    assert conf.get_string_list("tls_allowed_dn_list") == ["DN1", "DN2"]
    assert conf.get_string_list("sasl_allowed_username_list") == [
        "joe@EXAMPLE.COM", "fred@EXAMPLE.COM"]
    assert conf.get_bool("listen_tls") is False
    assert conf.get_uint("tcp_min_ssf") == 112
    assert conf.get_string("log_filters") == "1:qemu 1:libvirt 4:object 4:json 4:event 1:util"


# -- properties ---------------------------------------------------------------

_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,12}", fullmatch=True)
_strings = st.text(st.characters(blacklist_characters="\"\n\r", blacklist_categories=("Cs",)),
                   max_size=20)
_scalars = st.integers(min_value=-(2**40), max_value=2**40) | _strings
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=8)


def _format(value: object) -> str:
    if isinstance(value, list):
        return "[\n  " + ",\n  ".join(_format(v) for v in value) + "\n]"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


@given(st.lists(st.tuples(_names, _values), max_size=6))
def test_formatted_settings_parse_back(settings: list[tuple[str, object]]) -> None:
    text = "".join(f"{name} = {_format(value)}  # note\n" for name, value in settings)
    parsed = parse_conf(text).entries
    assert [(e.name, e.value) for e in parsed] == settings


@given(st.text(max_size=200))
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        parse_conf(text)
    except ConfSyntaxError as exc:
        assert 1 <= exc.line <= text.count("\n") + 1
