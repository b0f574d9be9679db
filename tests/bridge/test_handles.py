"""The handle table (tcltorch/handles.py) on its own: names, kinds, lookups and their errors,
free, listing, scoped release, known_kind and register_kind."""

from __future__ import annotations

import re

import pytest
import torch
from helpers import call_error

from tcltorch import handles as H
from tcltorch.handles import HandleTable


@pytest.fixture
def table() -> HandleTable:
    return HandleTable()


def _sgd():
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def test_names_are_kind_prefixed(table):
    opt = _sgd()
    cases = [
        (torch.ones(1), "tensor"),
        (torch.nn.Parameter(torch.ones(1)), "tensor"),
        (torch.nn.Linear(2, 2), "linear"),
        (torch.nn.Sequential(), "sequential"),
        (torch.nn.LayerNorm(2), "layernorm"),
        (torch.nn.BatchNorm1d(2), "batchnorm1d"),
        (opt, "optimizer"),
        (torch.optim.lr_scheduler.StepLR(opt, 1), "scheduler"),
        ({"a": 1}, "object"),
    ]
    for obj, kind in cases:
        name = table.put(obj)
        assert re.fullmatch(kind + r"\d+", name), (name, kind)
        assert table.get(name) is obj
        assert H.kind_of(obj) == kind
    assert table.put(torch.ones(1), kind="thing").startswith("thing")


def test_one_object_one_name(table):
    t = torch.ones(2)
    name = table.put(t)
    assert table.put(t) == name
    assert table.name_of(t) == name
    assert len(table) == 1 and name in table
    assert table.put(torch.ones(2)) != name  # an equal tensor is another object


def test_names_are_never_reused_across_tables(table):
    other = HandleTable()
    a, b = table.put(torch.ones(1)), other.put(torch.ones(1))
    assert a != b
    table.free(a)
    assert table.put(torch.ones(1)) != a  # a freed name is not handed out again


def test_none_has_no_handle(table):
    with pytest.raises(TypeError, match="None cannot have a handle"):
        table.put(None)


def test_get_checks_the_kind(table):
    t, lin, opt = torch.ones(1), torch.nn.Linear(1, 1), _sgd()
    ht, hl, ho = table.put(t), table.put(lin), table.put(opt)
    assert table.get(ht, "tensor") is t
    assert table.get(hl, "module") is lin and table.get(hl, "linear") is lin
    assert table.get(ho, "optimizer") is opt
    assert call_error(table.get, ht, "module") == (
        f'"{ht}" is a tensor, expected a module',
        ["TORCH", "HANDLE", ht],
    )
    assert call_error(table.get, hl, "optimizer") == (
        f'"{hl}" is a linear module, expected an optimizer',
        ["TORCH", "HANDLE", hl],
    )
    assert call_error(table.get, ho, "sequential")[0] == f'"{ho}" is an optimizer, expected a sequential'
    assert call_error(table.get, "tensor0", "tensor") == (
        'no tensor named "tensor0"',
        ["TORCH", "HANDLE", "tensor0"],
    )
    assert call_error(table.get, "nothing") == ('no object named "nothing"', ["TORCH", "HANDLE", "nothing"])
    assert table.lookup("nothing") is None and table.lookup(ht) is t


def test_describe():
    assert H.describe(torch.ones(1)) == "a tensor"
    assert H.describe(torch.nn.Linear(1, 1)) == "a linear module"
    assert H.describe(torch.nn.ReLU()) == "a relu module"
    assert H.describe(_sgd()) == "an optimizer"
    assert H.describe(object()) == "an object"


def test_free(table):
    t = torch.ones(1)
    name = table.put(t)
    table.free(name)
    assert name not in table and len(table) == 0 and table.name_of(t) is None
    assert call_error(table.get, name, "tensor")[0] == f'no tensor named "{name}"'
    assert call_error(table.free, name) == (f'no object named "{name}"', ["TORCH", "HANDLE", name])
    again = table.put(t)
    assert again != name and table.get(again) is t


def test_names_in_creation_order_and_by_kind(table):
    made = [table.put(torch.ones(1)), table.put(torch.nn.Linear(1, 1)), table.put(torch.ones(2))]
    made.append(table.put(_sgd()))
    assert table.names() == made
    assert table.names("tensor") == [made[0], made[2]]
    assert table.names("module") == [made[1]]
    assert table.names("linear") == [made[1]]
    assert table.names("optimizer") == [made[3]]
    assert table.names("sequential") == []
    table.free(made[0])
    assert table.names() == made[1:]


def test_release_since_a_mark(table):
    kept = table.put(torch.ones(1))
    mark = table.mark()
    a, b, c = (table.put(torch.ones(i + 1)) for i in range(3))
    assert table.release_since(mark, keep=[b]) == 2
    assert table.names() == [kept, b]
    assert a not in table and c not in table
    assert table.release_since(table.mark()) == 0
    assert table.names() == [kept, b]


def test_release_since_skips_freed_names(table):
    mark = table.mark()
    a, b = table.put(torch.ones(1)), table.put(torch.ones(2))
    table.free(a)
    assert table.release_since(mark) == 1
    assert len(table) == 0 and b not in table


def test_words_in(table):
    a, b = table.put(torch.ones(1)), table.put(torch.ones(2))
    table.free(b)
    assert table.words_in(f"{a} {{{b} x}} {a}x tensor0") == [a]
    assert table.words_in(f"{{{{{a}}}}}") == [a]


def test_clear(table):
    table.put(torch.ones(1))
    table.clear()
    assert len(table) == 0 and table.names() == []


def test_known_kind():
    for kind in ("tensor", "module", "optimizer", "scheduler", "object", "linear", "sequential", "layernorm"):
        assert H.known_kind(kind), kind
    assert not H.known_kind("bogus")
    assert not H.known_kind("Linear")  # kinds are lower case, as in handle names


class _Gadget:
    pass


def test_register_kind(table):
    assert H.kind_of(_Gadget()) == "object"
    assert not H.known_kind("gadget")
    H.register_kind(_Gadget, "gadget")
    try:
        g = _Gadget()
        name = table.put(g)
        assert re.fullmatch(r"gadget\d+", name)
        assert table.get(name, "gadget") is g
        assert table.names("gadget") == [name]
        assert H.known_kind("gadget", [g])
        assert not H.known_kind("gadget", [])  # a registered kind is known through live objects
        assert call_error(table.get, name, "tensor")[0] == f'"{name}" is a gadget, expected a tensor'
    finally:
        del H.KINDS[_Gadget]
    assert H.kind_of(_Gadget()) == "object"
