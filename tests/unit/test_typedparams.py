"""Typed parameter lists checked as libvirt's virTypedParamsValidate checks
them; the expected errors are libvirtd 9.0's answers to the same lists."""

from __future__ import annotations

import pytest

from rpcnet.errors import VirError
from rpcnet.protocol.typedparams import first, validate
from rpcnet.protocol.values import ParamType, TypedParam

T = TypedParam
U, INT, S = ParamType.UINT, ParamType.INT, ParamType.STRING
POOL = {"minWorkers": U, "maxWorkers": U, "prioWorkers": U}


def error_of(params: list[TypedParam]) -> tuple[int, int, str]:
    with pytest.raises(VirError) as info:
        validate(params, POOL)
    return info.value.code, info.value.domain, info.value.message


def test_known_names_of_the_right_type_pass() -> None:
    validate([], POOL)
    validate([T("prioWorkers", U, 1), T("minWorkers", U, 2)], POOL)


@pytest.mark.parametrize(("params", "expected"), [
    ([T("bogus", U, 1)], (74, 0, "argument unsupported: parameter 'bogus' not supported")),
    ([T("nWorkers", U, 0)], (74, 0, "argument unsupported: parameter 'nWorkers' not supported")),
    ([T("minWorkers", INT, 1)],
     (8, 0, "invalid argument: invalid type 'int' for parameter 'minWorkers', expected 'uint'")),
    ([T("minWorkers", U, 1), T("minWorkers", U, 1)],
     (8, 0, "invalid argument: parameter 'minWorkers' occurs multiple times")),
    # one merge over the sorted lists: what sorts first is found first
    ([T("zzz", U, 0), T("minWorkers", S, "x")],
     (8, 0, "invalid argument: invalid type 'string' for parameter 'minWorkers', "
            "expected 'uint'")),
    ([T("aaa", U, 0), T("minWorkers", S, "x")],
     (74, 0, "argument unsupported: parameter 'aaa' not supported")),
])
def test_faults_get_libvirts_errors(params: list[TypedParam], expected: tuple[int, int, str]
                                    ) -> None:
    assert error_of(params) == expected


def test_first_finds_the_first_of_a_name() -> None:
    params = [T("a", U, 1), T("b", U, 2), T("a", U, 3)]
    assert first(params, "a") == T("a", U, 1)
    assert first(params, "c") is None
