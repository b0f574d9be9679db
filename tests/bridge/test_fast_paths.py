"""The bridge's fast paths (issue 26) do what the slow paths do: the C put of a new tensor,
the C listing of every handle, the compiled per-command runner (positional words, a ``rest``
slot, keyword rebuild on failure), scripts evaluated as the caller's own Tcl_Obj, and the
builtins that evaluate, call and read results without a cffi round trip."""

from __future__ import annotations

import pytest
import torch

from tcltorch import Interp
from tcltorch import handles as H
from tcltorch.handles import HandleTable


def _error(interp: Interp, script: str) -> tuple[str, list[str]]:
    """(message, errorcode) of a failing script (a TclError, or a Python error of torch's class)."""
    with pytest.raises(Exception) as info:  # any class: the caller checks message and code
        interp.eval(script)
    return info.value.message, info.value.errorcode  # type: ignore[attr-defined]


def test_c_put_does_what_put_does(interp):
    table = interp._session.handles
    assert table.put_tensor is not table.put  # the bridge gave its C version
    t = torch.ones(2)
    mark = table.mark()
    name = table.put_tensor(t)
    assert name.startswith("tensor") and table.get(name, "tensor") is t
    assert table.put_tensor(t) == name == table.put(t) == table.name_of(t)  # one object, one name
    other = table.put(torch.zeros(1))
    assert int(other[len("tensor") :]) > int(name[len("tensor") :])  # one counter for both
    assert table.mark() == mark + 2 and table.names()[-2:] == [name, other]
    assert table.release_since(mark, keep=[other]) == 1
    assert name not in table and table.name_of(t) is None and table.names()[-1] == other


def test_listing_every_handle(interp):
    table = interp._session.handles
    interp.eval("set a [torch::ones 1]; set b [torch::ones 2]")
    names = interp.eval("torch::handles")
    assert names.split() == table.names() and interp.eval("llength [torch::handles]") == str(len(table))
    assert interp.eval("lindex [torch::handles] end") == interp.eval("set b")
    interp.eval("torch::free $a $b")
    assert interp.eval("torch::handles") == ""


def test_names_text_falls_back_for_names_that_are_not_plain_words():
    table = HandleTable()
    assert table.names_text() == ""
    a = table.put(torch.ones(1))
    assert table.names_text() == a
    b = table.put({"x": 1}, kind="odd{kind")
    assert table.names_text() is None and table.names() == [a, b]
    table.clear()
    assert table.names_text() == ""


def test_clear_keeps_the_lookup_function():
    table = HandleTable()
    get = table.lookup_function()
    a = table.put(torch.ones(1))
    assert get(a) is table.get(a)
    table.clear()
    assert get(a) is None
    b = table.put(torch.ones(1))
    assert get(b) is table.get(b)


def test_positional_and_named_forms_fail_alike(interp):
    interp.eval("set a [torch::ones {2 3}]; set b [torch::ones {4 5}]")
    before = interp.eval("torch::handles")
    fast = _error(interp, "torch::tensor_add $a $b")
    named = _error(interp, "torch::tensor_add -input $a -other $b")
    assert fast == named and fast[1] == ["TORCH", "RuntimeError"]
    assert interp.eval("torch::handles") == before  # nothing made
    assert _error(interp, "torch::tensor_add $a nosuch") == _error(
        interp, "torch::tensor_add -input $a -other nosuch"
    )
    assert _error(interp, "torch::tensor_add $a") == (
        'wrong # args: should be "torch::tensor_add input other ?alpha?"',
        ["TCL", "WRONGARGS"],
    )


def test_a_failing_function_gets_its_keyword_arguments(interp, monkeypatch):
    seen = []
    session = interp._session
    error = session.error

    def spy(exc, invoked=None, kwargs=None, words=()):
        seen.append(kwargs)
        return error(exc, invoked, kwargs, words)

    monkeypatch.setattr(session, "error", spy)
    # a runner compiled after the spy is in place (each command compiles on its first call)
    interp.eval("set a [torch::ones {2 3}]; set b [torch::ones {4 5}]")
    _error(interp, "torch::tensor_sub $a $b 2")
    kwargs = seen[-1]
    assert set(kwargs) == {"input", "other", "alpha"} and kwargs["alpha"] == 2
    assert kwargs["input"] is interp.get(interp.eval("set a"))
    _error(interp, "torch::tensor_sub $a nosuch")
    assert seen[-1] is None  # the words never converted: no keyword arguments


def test_free_takes_the_rest_slot_fast_and_checks_all_first(interp):
    interp.eval("set a [torch::ones 1]; set b [torch::ones 2]")
    assert _error(interp, "torch::free $a nosuch $b") == (
        'no object named "nosuch"',
        ["TORCH", "HANDLE", "nosuch"],
    )
    assert interp.eval("llength [torch::handles]") == "2"  # nothing freed
    assert _error(interp, "torch::free")[1] == ["TCL", "WRONGARGS"]
    assert _error(interp, "torch::free $a -bogus")[1][:3] == ["TCL", "LOOKUP", "INDEX"]
    interp.eval("torch::free $a $b $a")
    assert interp.eval("torch::handles") == ""


def test_scope_bodies_keep_tcls_semantics(interp):
    interp.eval("set a [torch::ones {2 2}]")
    interp.eval(
        "proc f {n} {global a; set r {}; for {set i 0} {$i < $n} {incr i} "
        "{torch::scope {lappend r [torch::tensor_add $a $a]}}; set r}"
    )
    kept = interp.eval("f 3").split()  # each scope's result names the list so far
    assert len(kept) == 3 and all(name in interp.handles() for name in kept)
    assert (
        interp.eval("set n 0; foreach i {1 2 3} {torch::scope {if {$i == 2} continue; incr n}}; set n") == "2"
    )
    assert interp.eval("set n 0; foreach i {1 2 3} {torch::scope {if {$i == 2} break; incr n}}; set n") == "1"
    assert interp.eval("proc h {} {torch::scope {return early}; return late}; h") == "early"
    assert _error(interp, "torch::scope {error boom {} {MY CODE}}") == ("boom", ["MY", "CODE"])
    before = interp.handles()
    assert _error(interp, "torch::scope {torch::ones 2; error boom}")[0] == "boom"
    assert interp.handles() == before  # what the failed body made is freed


def test_builtins_answer_like_the_cffi_calls(interp):
    session = interp._session
    interp.eval("proc twice {x} {return [expr {2 * $x}]}")
    assert session.call("twice", 21) == "42"
    assert session.call("list", "a b", "{") == "{a b} \\{"
    assert session.eval("set v 7") == "7"
    assert session.result() == "7"
    assert session.eval("set v") == "7"  # not a word of a running command: the cached Tcl_Obj
    assert _error(interp, "torch::scope {nosuchcommand}")[0] == 'invalid command name "nosuchcommand"'
    assert interp.eval("expr {1 + 1}") == "2"


def test_handle_counter_is_shared_with_put():
    table = HandleTable()
    a = table.put(torch.ones(1))
    b = next(H._TENSOR_COUNTER)
    c = table.put(torch.ones(1))
    assert int(c[len("tensor") :]) == b + 1 and int(a[len("tensor") :]) < b


def _release_story(table: HandleTable, closed: list[object]) -> list[object]:
    """The same puts, frees and releases on a table; what each step answered and left."""
    answers: list[object] = []
    closed.clear()
    base = table.names()
    first = table.put(torch.ones(1))
    mark = table.mark()
    a, b, c, d = (table.put(torch.ones(i + 1)) for i in range(4))
    w = table.put(_Writer())
    table.free(b)
    answers.append(table.release_since(mark, keep=[c, "nosuch", b]))
    left = [n for n in table.names() if n not in base]
    answers.append([{first: "first", c: "c"}.get(n, n) for n in left])
    answers.append([a in table, b in table, d in table, w in table, table.name_of(w) is None])
    answers.append(len(closed))
    inner = table.mark()
    e = table.put(torch.zeros(2))
    answers.append(table.release_since(inner))
    answers.append(table.release_since(table.mark()))
    answers.append([e in table, table.names()[-1] == c])
    answers.append(table.release_since(mark - 1, keep=()))  # first and c go too
    answers.append([n for n in table.names() if n not in base])
    return answers


class _Writer:
    pass


def test_c_release_does_what_release_does(interp, monkeypatch):
    closed: list[object] = []
    monkeypatch.setitem(H.KINDS, _Writer, "writer")
    monkeypatch.setitem(H.CLOSERS, _Writer, closed.append)
    table = interp._session.handles
    assert table.release_c is not None
    in_c = _release_story(table, closed)
    in_python = _release_story(HandleTable(), closed)
    assert in_c == in_python
    assert in_c[0] == 3 and in_c[3] == 1  # a, d and the writer freed; the writer closed once


def test_runner_calls_by_position_only_a_plain_function_of_exactly_those_names():
    import functools

    from tcltorch.bridge import _positional_order

    def fn(input, other, alpha):
        return input

    assert _positional_order(fn, ["alpha", "input", "other"]) == ["input", "other", "alpha"]
    assert _positional_order(fn, ["input", "other"]) is None  # a name the call would not give
    assert _positional_order(fn, ["input", "other", "alpha", "ctx"]) is None

    @functools.wraps(fn)
    def wrapper(**kwargs):
        return fn(**kwargs)

    assert _positional_order(wrapper, ["input", "other", "alpha"]) is None  # the wrapper's own: keywords

    def keyword_only(input, *, ctx):
        return input

    assert _positional_order(keyword_only, ["input", "ctx"]) is None


def test_a_runner_returns_a_new_tensor_as_its_handle_name_and_failures_as_before(interp):
    a = interp.put(torch.tensor([1.0, 2.0]))
    name = interp.eval(f"torch::tensor_add {a} {a}")
    assert interp.get(name).tolist() == [2.0, 4.0]
    assert interp.eval(f"torch::tensor_add {a} {a} 0.5") != name  # another case of the runner
    assert interp.get(interp.eval(f"torch::tensor_add {a} 1")).tolist() == [2.0, 3.0]
    assert interp.get(interp.eval(f"torch::tensor_add 1 {a}")).tolist() == [2.0, 3.0]
    message, code = _error(interp, f"torch::tensor_add {a} [torch::ones 3]")
    assert "size of tensor a (2) must match the size of tensor b (3)" in message and code[0] == "TORCH"
    assert interp.eval(f"torch::tensor_numel {a}") == "2"  # a non-tensor result: (OK, value)


@pytest.mark.parametrize("path", ["c", "python"])
def test_young_and_old_generations_of_the_handle_table(monkeypatch, path):
    """Handles made since the last promotion live in a small dict (a scope's puts and releases
    stay cheap with 10^6 live handles); promotion keeps creation order, and lookups, frees,
    scopes and listings see both generations, in C and in Python alike."""
    monkeypatch.setattr(H, "YOUNG_LIMIT", 3)
    tcl = Interp()
    table = tcl._session.handles
    if path == "python":
        table.put_tensor, table.release_c, table.lookup_c = table.put, None, None
    made = [tcl.eval("torch::ones 1") for _ in range(8)]
    assert len(table._young) <= 3 and all(n in table for n in made)
    assert [tcl.get(n).tolist() for n in made] == [[1.0]] * 8  # found in either generation
    before = len(table)
    # a scope whose handles are promoted while it runs frees them all, keeping its result's
    kept = tcl.eval("torch::scope { foreach i {1 2 3 4 5} { set t [torch::ones 2] }; set t }")
    assert len(table) == before + 1 and kept in table
    tcl.eval(f"torch::free {made[0]} {made[-1]}")  # one old, one young (or both old)
    assert made[0] not in table and made[-1] not in table
    assert table.names()[-7:] == [*made[1:-1], kept]  # creation order across generations
    assert table._young == {}  # a listing promotes
    assert tcl.eval("torch::handles") == " ".join(table.names())


def _plans(interp: Interp, fn_name: str) -> list:
    """The holder (tclapi.c's command data) of the command whose function is ``fn_name``, after
    a call compiled its runner: [runner, plans by number of words]."""
    for holder in interp._session._callables:
        if isinstance(holder, list) and len(holder) == 2:
            plans = [p for p in holder[1] if p is not None]
            if plans and plans[0][0].__name__ == fn_name:
                return holder
    raise AssertionError(f"no direct plans for {fn_name}")


def test_direct_calls_do_what_the_runner_does():
    """A call whose words all name handles of their slots' kinds goes from C to the command
    function (tclapi.c, tt_direct); anything else goes to the runner, which converts, checks and
    reports.  Both give the same values, the same handles' lifetimes and the same errors."""
    tcl = Interp()
    tcl.eval(
        "torch::manual_seed 0; set x [torch::randn -shape {4 3}]; set y [torch::tensor_create {0 2 1 1} -dtype int64]"
    )
    tcl.eval("set m [torch::linear 3 3]; set opt [torch::optimizer_sgd [torch::layer_parameters $m] 0.1]")
    tcl.eval(
        "torch::cross_entropy_loss $x $y; torch::tensor_backward [torch::tensor_sum [torch::layer_forward $m $x]]"
    )
    tcl.eval("torch::optimizer_zero_grad $opt; torch::scope {list}")
    calls = []
    for name in ("cross_entropy_loss", "layer_forward", "optimizer_zero_grad", "tensor_backward", "scope"):
        holder = _plans(tcl, name)
        runner = holder[0]

        def counting(args, runner=runner, name=name):
            calls.append(name)
            return runner(args)

        holder[0] = counting  # (this interpreter's own: it goes with it)
    direct = tcl.get(tcl.eval("torch::cross_entropy_loss $x $y"))
    parsed = tcl.get(tcl.eval("torch::cross_entropy_loss $x $y -reduction mean"))  # an option: the runner
    assert calls == ["cross_entropy_loss"] and torch.equal(direct, parsed)
    want = torch.nn.functional.cross_entropy(tcl.get(tcl.eval("set x")), tcl.get(tcl.eval("set y")))
    assert torch.equal(direct, want)
    m, x = tcl.get(tcl.eval("set m")), tcl.get(tcl.eval("set x"))
    assert torch.equal(tcl.get(tcl.eval("torch::layer_forward $m $x")), m(x))
    loss = tcl.eval("torch::tensor_sum [torch::layer_forward $m $x]")
    assert tcl.eval(f"torch::tensor_backward {loss}") == "" and m.weight.grad is not None
    assert tcl.eval("torch::optimizer_zero_grad $opt") == "" and m.weight.grad is None
    before = len(tcl._session.handles)
    assert tcl.eval("torch::scope {torch::ones 2; set r 5}") == "5" and len(tcl._session.handles) == before
    assert calls == ["cross_entropy_loss"]  # none of these went through a runner
    # the words that are not handles of the slot's kind go to the runner, with its errors
    message, code = _error(tcl, "torch::cross_entropy_loss $m $y")
    assert message.startswith(f'"{tcl.eval("set m")}" is a linear module, expected a tensor') and code[
        :2
    ] == ["TORCH", "HANDLE"]
    message, code = _error(tcl, "torch::optimizer_zero_grad $x")
    assert "expected an optimizer" in message and code[:2] == ["TORCH", "HANDLE"]
    message, code = _error(tcl, "torch::layer_forward $x $x")
    assert "expected a module" in message
    message, code = _error(tcl, "torch::cross_entropy_loss nosuch $y")
    assert message == 'no tensor named "nosuch"' and code == ["TORCH", "HANDLE", "nosuch"]
    assert calls == ["cross_entropy_loss"] * 2 + [
        "optimizer_zero_grad",
        "layer_forward",
        "cross_entropy_loss",
    ]
    # a parameter (a tensor subclass) is not a plain tensor: the runner takes it
    assert tcl.eval(f"torch::layer_forward $m {tcl.put(m.weight)}") in tcl._session.handles
    # an error of the command function itself: the runner's error path, the same message
    tcl.eval("set bad [torch::tensor_create {0 1 7} -dtype int64]; set z [torch::ones -shape {3 3}]")
    direct_error = _error(tcl, "torch::cross_entropy_loss $z $bad")
    runner_error = _error(tcl, "torch::cross_entropy_loss $z $bad -reduction mean")
    assert direct_error == runner_error and "class target 7 in" in direct_error[0]
    assert calls[-1] == "cross_entropy_loss" and len(calls) == 7  # the direct one did not call it
