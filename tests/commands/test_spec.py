"""The command spec layer (tcltorch/commands/spec.py) on its own: word classification, Tcl
number and boolean parsing, each value type, and Command.parse in both argument forms, with a
plain Python stand-in for the interpreter session (no bridge, no Tcl interpreter of tcltorch)."""

from __future__ import annotations

import math
import tkinter

import pytest
import torch
from helpers import call_error

from tcltorch.commands import load_all
from tcltorch.commands import spec as S
from tcltorch.commands.contract import Session
from tcltorch.errors import TclError
from tcltorch.handles import HandleTable

_TCL = tkinter.Tcl()


class FakeSession:
    """The least a command's parse needs from a session: a handle table and Tcl list splitting."""

    def __init__(self) -> None:
        self.handles = HandleTable()

    def split(self, text: str, option: str = "value") -> list[str]:
        try:
            return list(_TCL.splitlist(text))
        except tkinter.TclError as exc:
            raise TclError(f'invalid {option} "{text}": {exc}', ["TORCH", "VALUE", option]) from exc

    def nested(self, text: str, option: str = "-data"):
        raise NotImplementedError("not needed by these tests")

    def eval(self, script: str) -> str:
        return _TCL.eval(script)

    def call(self, *words):
        return _TCL.call(*words)

    def result(self) -> str:
        return ""


@pytest.fixture
def ctx() -> FakeSession:
    return FakeSession()


def test_the_fake_session_is_a_session(ctx):
    assert isinstance(ctx, Session)


# --- words and numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word,options,expected",
    [
        ("-lr", None, True),
        ("-Lr", None, True),
        ("-1.0", None, False),
        ("-1", None, False),
        ("{-1 2}", None, False),
        ("-", None, False),
        ("lr", None, False),
        ("", None, False),
        ("-inf", None, False),
        ("-Inf", None, False),
        ("-NaN", None, False),
        ("-infinity", None, False),
        ("-inf", {"-inf": 1}, True),
        ("-Inf", {"-inf": 1}, False),  # only the exact spelling the command has
    ],
)
def test_is_option_word(word, options, expected):
    assert S.is_option_word(word, options) is expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("12", 12),
        (" 7 ", 7),
        ("-3", -3),
        ("+4", 4),
        ("0x1f", 31),
        ("-0b101", -5),
        ("0o17", 15),
        ("1_000", None),
        ("\u0661\u0662", None),  # Arabic-Indic digits: Python's int() takes them, Tcl does not
        ("", None),
        ("  ", None),
        ("1.5", None),
        ("abc", None),
    ],
)
def test_parse_tcl_int(text, expected):
    assert S.parse_tcl_int(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [("1.5", 1.5), ("1e3", 1000.0), ("-2", -2.0), ("0x10", 16.0), (" .25 ", 0.25), ("inf", math.inf)],
)
def test_parse_tcl_double(text, expected):
    assert S.parse_tcl_double(text) == expected


@pytest.mark.parametrize("text", ["abc", "1_0", "", "1.5.2", "\u0661"])
def test_parse_tcl_double_refuses(text):
    assert S.parse_tcl_double(text) is None


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1", True),
        ("0", False),
        ("2", True),
        ("0x0", False),
        ("true", True),
        ("TRUE", True),
        ("t", True),
        ("yes", True),
        ("y", True),
        ("on", True),
        ("false", False),
        ("f", False),
        ("no", False),
        ("n", False),
        ("off", False),
        ("of", False),
        ("o", None),  # on or off: ambiguous
        ("", None),
        ("maybe", None),
        ("truth", None),
    ],
)
def test_parse_tcl_bool(text, expected):
    assert S.parse_tcl_bool(text) is expected


# --- value types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vtype,text,expected",
    [
        (S.Str(), "any thing", "any thing"),
        (S.Double(), "0.5", 0.5),
        (S.Double(gt=0), "1e-3", 1e-3),
        (S.Double(ge=0, lt=1), "0", 0.0),
        (S.Double(finite=False), "inf", math.inf),
        (S.Int(), "-4", -4),
        (S.Int(ge=1), "1", 1),
        (S.Bool(), "yes", True),
        (S.Choice("mean", "sum", "none"), "sum", "sum"),
        (S.Shape(), "2 3", (2, 3)),
        (S.Shape(), "", ()),
        (S.IntList(), "-1 0 2", (-1, 0, 2)),
        (S.DType(), "float64", torch.float64),
        (S.DType(), "double", torch.float64),
        (S.DType(), "Float32", torch.float32),
        (S.DType(), "long", torch.int64),
        (S.Device(), "cpu", torch.device("cpu")),
        (S.Custom(lambda text, option, ctx: text[::-1], "reversed", "must be text"), "abc", "cba"),
    ],
)
def test_value_types_convert(ctx, vtype, text, expected):
    assert vtype.convert(text, "-x", ctx) == expected


@pytest.mark.parametrize(
    "vtype,text,message",
    [
        (S.Double(), "abc", 'invalid -x "abc": must be a finite number'),
        (S.Double(), "inf", 'invalid -x "inf": must be a finite number'),
        (S.Double(finite=False), "nan", 'invalid -x "nan": must be a number'),
        (S.Double(gt=0), "0", 'invalid -x "0": must be a finite number > 0'),
        (S.Double(ge=0, lt=1), "1", 'invalid -x "1": must be a finite number >= 0 and < 1'),
        (S.Double(le=0.5), "0.75", 'invalid -x "0.75": must be a finite number <= 0.5'),
        (S.Int(), "1.5", 'invalid -x "1.5": must be an integer'),
        (S.Int(ge=1), "0", 'invalid -x "0": must be an integer >= 1'),
        (S.Bool(), "maybe", 'invalid -x "maybe": must be a boolean'),
        (S.Choice("mean", "sum", "none"), "avg", 'invalid -x "avg": must be mean, sum, or none'),
        (S.Choice("a", "b"), "c", 'invalid -x "c": must be a or b'),
        (S.Shape(), "2 -1", 'invalid -x "2 -1": must be a list of non-negative integers'),
        (S.IntList(), "1 x", 'invalid -x "1 x": must be a list of integers'),
        (
            S.DType(),
            "complex",
            (
                'invalid -x "complex": must be one of float32, float64, float16, bfloat16, int8, int16, '
                "int32, int64, uint8, or bool (or float, double, half, int, long)"
            ),
        ),
    ],
)
def test_value_types_refuse_with_the_option_named(ctx, vtype, text, message):
    assert call_error(vtype.convert, text, "-x", ctx) == (message, ["TORCH", "VALUE", "-x"])


def test_long_values_are_shortened_in_messages(ctx):
    message, _ = call_error(S.Int().convert, "9" * 100 + "x", "-n", ctx)
    assert message == 'invalid -n "' + "9" * 57 + '...": must be an integer'


def test_device_refuses_a_bad_device(ctx):
    message, code = call_error(S.Device().convert, "bogus", "-device", ctx)
    assert "-device" in message and "bogus" in message and code[:2] == ["TORCH", "VALUE"]


def test_handle_types(ctx):
    t = torch.ones(2)
    lin = torch.nn.Linear(2, 2)
    ht, hl = ctx.handles.put(t), ctx.handles.put(lin)
    assert S.Handle("tensor").convert(ht, "-input", ctx) is t
    assert S.Handle().convert(hl, "-x", ctx) is lin
    assert S.Handle("module").convert(hl, "-m", ctx) is lin
    assert call_error(S.Handle("tensor").convert, hl, "-input", ctx) == (
        f'"{hl}" is a linear module, expected a tensor',
        ["TORCH", "HANDLE", hl],
    )
    assert call_error(S.Handle("tensor").convert, "tensor0", "-input", ctx) == (
        'no tensor named "tensor0"',
        ["TORCH", "HANDLE", "tensor0"],
    )
    got = S.HandleList("tensor").convert(f"{ht} {ht}", "-tensors", ctx)
    assert len(got) == 2 and got[0] is t and got[1] is t
    assert S.HandleList("tensor").convert("", "-tensors", ctx) == []
    assert call_error(S.HandleList("tensor").convert, f"{ht} {hl}", "-tensors", ctx)[0] == (
        f'"{hl}" is a linear module, expected a tensor'
    )


def test_value_type_docs():
    assert S.Handle("tensor").doc == "tensor handle" and S.Handle().requirement == "must be a object handle"
    assert S.HandleList("module").doc == "list of module handles"
    assert S.Choice("a", "b").doc == "a|b"
    assert S.Double(gt=0).requirement == "must be a finite number > 0"
    assert S.Double(gt=0.5).requirement == "must be a finite number > 0.5"


def test_snake_and_camel():
    assert S.snake("requiresGrad") == "requires_grad"
    assert S.snake("lr") == "lr"
    assert S.camel("tensor_add") == "tensorAdd"
    assert S.camel("lr_scheduler_step") == "lrSchedulerStep"


# --- Command.parse ----------------------------------------------------------------------------


def _fill(**kwargs):
    return kwargs


def make_command(calls: list[int] | None = None) -> S.Command:
    calls = calls if calls is not None else []

    def device_default():
        calls.append(1)
        return torch.device("cpu")

    return S.Command(
        "demo_fill",
        _fill,
        [
            S.Opt("size", S.Shape()),
            S.Opt("value", S.Double(), default=0.0),
            S.Opt("dtype", S.DType(), default=torch.float32),
            S.Opt("requiresGrad", S.Bool(), default=False, positional=False),
            S.Opt("device", S.Device(), default=device_default, positional=False),
        ],
    )


USAGE = 'wrong # args: should be "torch::demo_fill size ?value? ?dtype? ?-option value ...?"'


def test_names_and_usage():
    cmd = make_command()
    assert cmd.names == ["demo_fill", "demoFill"]
    assert cmd.usage("demoFill") == "torch::demoFill size ?value? ?dtype? ?-option value ...?"


@pytest.mark.parametrize(
    "args,expected",
    [
        (("2 3",), {"size": (2, 3), "value": 0.0, "dtype": torch.float32, "requires_grad": False}),
        (
            ("2", "1.5", "double"),
            {"size": (2,), "value": 1.5, "dtype": torch.float64, "requires_grad": False},
        ),
        (
            ("2", "-requiresGrad", "1"),
            {"size": (2,), "value": 0.0, "dtype": torch.float32, "requires_grad": True},
        ),
        (
            ("-size", "4", "-value", "-2"),
            {"size": (4,), "value": -2.0, "dtype": torch.float32, "requires_grad": False},
        ),
        (
            ("-value", "1", "-size", ""),
            {"size": (), "value": 1.0, "dtype": torch.float32, "requires_grad": False},
        ),
        (
            ("-req", "yes", "-size", "1"),
            {"size": (1,), "value": 0.0, "dtype": torch.float32, "requires_grad": True},
        ),
        (
            ("-dt", "int64", "-size", "1"),
            {"size": (1,), "value": 0.0, "dtype": torch.int64, "requires_grad": False},
        ),
    ],
)
def test_parse_both_forms(ctx, args, expected):
    got = make_command().parse(ctx, args, "demo_fill")
    assert got == {**expected, "device": torch.device("cpu")}


@pytest.mark.parametrize(
    "args,message,code",
    [
        ((), USAGE, ["TCL", "WRONGARGS"]),
        (("1", "2", "float32", "extra"), USAGE, ["TCL", "WRONGARGS"]),
        (("-value", "2"), 'missing required option "-size"', ["TORCH", "ARGS", "REQUIRED", "-size"]),
        (("-size",), 'missing value for option "-size"', ["TORCH", "ARGS", "MISSING", "-size"]),
        (
            ("2", "-size", "3"),
            'option "-size" was also given as an argument',
            ["TORCH", "ARGS", "TWICE", "-size"],
        ),
        (
            ("2", "-d", "cpu"),
            'ambiguous option "-d": must be -size, -value, -dtype, -requiresGrad, or -device',
            ["TCL", "LOOKUP", "INDEX", "option", "-d"],
        ),
        (
            ("2", "-zzz", "1"),
            'bad option "-zzz": must be -size, -value, -dtype, -requiresGrad, or -device',
            ["TCL", "LOOKUP", "INDEX", "option", "-zzz"],
        ),
        (
            ("x y",),
            'invalid -size "x y": must be a list of non-negative integers',
            ["TORCH", "VALUE", "-size"],
        ),
        (("2", "big"), 'invalid -value "big": must be a finite number', ["TORCH", "VALUE", "-value"]),
    ],
)
def test_parse_errors(ctx, args, message, code):
    assert call_error(make_command().parse, ctx, args, "demo_fill") == (message, code)


def test_minus_inf_is_a_value_word(ctx):
    # read as the -value slot's word (not as an option), then refused as not finite
    assert call_error(make_command().parse, ctx, ("3", "-inf"), "demo_fill") == (
        'invalid -value "-inf": must be a finite number',
        ["TORCH", "VALUE", "-value"],
    )


def test_missing_arguments_are_reported_before_values_are_read(ctx):
    # -value is bad, but the missing -size is what the caller hears about
    assert (
        call_error(make_command().parse, ctx, ("-value", "bad"), "demo_fill")[0]
        == 'missing required option "-size"'
    )


def test_callable_default_is_called_per_parse(ctx):
    calls: list[int] = []
    cmd = make_command(calls)
    cmd.parse(ctx, ("2",), "demo_fill")  # the fast path
    cmd.parse(ctx, ("-size", "2"), "demo_fill")  # the general path
    assert len(calls) == 2
    cmd.parse(ctx, ("2", "-device", "cpu"), "demo_fill")  # given: not called
    assert len(calls) == 2


def test_rest_slot_takes_words_up_to_the_first_option(ctx):
    cmd = S.Command(
        "demo_cat",
        _fill,
        [S.Opt("numbers", S.Int(), rest=True), S.Opt("scale", S.Double(), default=1.0, positional=False)],
    )
    assert cmd.usage("demo_cat") == "torch::demo_cat numbers ?numbers ...? ?-option value ...?"
    assert cmd.parse(ctx, ("1", "2", "3"), "demo_cat") == {"numbers": [1, 2, 3], "scale": 1.0}
    assert cmd.parse(ctx, ("4", "-scale", "2"), "demo_cat") == {"numbers": [4], "scale": 2.0}
    assert cmd.parse(ctx, ("-numbers", "5"), "demo_cat") == {"numbers": [5], "scale": 1.0}
    assert call_error(cmd.parse, ctx, ("1", "x"), "demo_cat")[0] == 'invalid -numbers "x": must be an integer'
    assert call_error(cmd.parse, ctx, (), "demo_cat")[0] == (
        'wrong # args: should be "torch::demo_cat numbers ?numbers ...? ?-option value ...?"'
    )


def test_last_option_is_the_final_word(ctx):
    cmd = S.Command(
        "demo_with",
        _fill,
        [S.Opt("times", S.Int(), default=1, positional=False), S.Opt("body", S.Script(), last=True)],
    )
    assert cmd.usage("demo_with") == "torch::demo_with ?-option value ...? body"
    assert cmd.parse(ctx, ("puts hi",), "demo_with") == {"times": 1, "body": "puts hi"}
    assert cmd.parse(ctx, ("-times", "3", "incr x"), "demo_with") == {"times": 3, "body": "incr x"}
    assert call_error(cmd.parse, ctx, (), "demo_with") == (
        'wrong # args: should be "torch::demo_with ?-option value ...? body"',
        ["TCL", "WRONGARGS"],
    )
    assert not cmd.fast_path_applies()


def test_a_command_without_arguments_refuses_words(ctx):
    cmd = S.Command("demo_none", _fill, [])
    assert cmd.parse(ctx, (), "demo_none") == {}
    assert call_error(cmd.parse, ctx, ("x",), "demo_none")[0] == 'wrong # args: should be "torch::demo_none"'


def test_context_commands_get_the_session(ctx):
    cmd = S.Command("demo_ctx", _fill, [S.Opt("n", S.Int())], context=True)
    assert cmd.parse(ctx, ("1",), "demo_ctx") == {"n": 1, "ctx": ctx}
    assert cmd.parse(ctx, ("-n", "1"), "demo_ctx") == {"n": 1, "ctx": ctx}


def test_parse_hook_wraps_the_spec_parse(ctx):
    seen = []

    def hook(cmd, ctx, args, invoked, parse):
        seen.append(args)
        return parse(ctx, args[1:] if args[:1] == ("legacy",) else args, invoked)

    cmd = S.Command("demo_hook", _fill, [S.Opt("n", S.Int())], parse_hook=hook)
    assert cmd.parse(ctx, ("legacy", "3"), "demo_hook") == {"n": 3}
    assert seen == [("legacy", "3")]
    assert not cmd.fast_path_applies()


# --- the compiled fast path agrees with the general parser --------------------------------------

_SAMPLE_WORDS = {
    S.Int: "2",
    S.Double: "0.5",
    S.Bool: "1",
    S.DType: "float64",
    S.Shape: "2 3",
    S.IntList: "0",
    S.Str: "x",
}


def _sample(opt: S.Opt) -> str | None:
    if isinstance(opt.type, S.Choice):
        return opt.type.choices[0]
    return _SAMPLE_WORDS.get(type(opt.type))


def _outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except TclError as exc:
        return "error", (exc.message, exc.errorcode)


def _same_kwargs(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key, x in a.items():
        y = b[key]
        if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
            if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and torch.equal(x, y)):
                return False
        elif x != y and type(x) is type(y) and x.__class__.__eq__ is object.__eq__:
            continue  # a fresh object from a callable default each time: same class is all we ask
        elif x != y and not (isinstance(x, float) and math.isnan(x) and math.isnan(y)):
            return False
    return True


def test_fast_path_agrees_with_the_general_parser_on_real_commands(ctx):
    checked = 0
    for name, cmd in sorted(load_all().items()):
        fast = cmd.fast_parser()
        if fast is None:
            continue
        words = [_sample(o) for o in cmd.positional]
        for arity in range(cmd._min_positional, len(cmd.positional) + 1):
            if any(w is None for w in words[:arity]):
                break
            args = tuple(words[:arity])
            got = _outcome(fast, ctx, args)
            want = _outcome(cmd._parse_general, ctx, args, name)
            if got[0] == "ok" and got[1] is None:
                continue  # the fast path declined (the general parser decides): nothing to compare
            assert got[0] == want[0], (name, args, got, want)
            if got[0] == "ok":
                assert _same_kwargs(got[1], want[1]), (name, args, got[1], want[1])
            else:
                assert got[1] == want[1], (name, args)
            checked += 1
    assert checked > 100, checked


def test_fast_path_declines_option_words(ctx):
    cmd = make_command()
    assert cmd.fast_parser()(ctx, ("-size", "2")) is None
    assert cmd.fast_parser()(ctx, ("2",))["size"] == (2,)
    assert cmd.fast_parser()(ctx, ("2", "1", "float32", "x")) is None  # too many: the general parser says so
