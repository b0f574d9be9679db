"""Fuzz every command's options through the Python host: a value no torch function can take
(2^63 for an integer option) and a 100 kB word must give a short Tcl-style error, never
Python/C++ text (issue 20)."""

from __future__ import annotations

import os

import pytest

import tcltorch
from tcltorch.commands import load_all
from tcltorch.commands.spec import Custom, Handle, Int, IntList, Shape

PYTHON_WORDS = ("Overflow", "long long", "Traceback", "torch.", "TypeError")
TOO_BIG = str(2**63)
TCL_OWN = ("invalid command name ", "couldn't ", 'invalid -file "')


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    # commands that write files take the words they are fuzzed with as file names: in a scratch
    # folder, never the checkout
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("fuzz"))
    env = _env()
    try:
        yield env
    finally:
        # a fuzzed call may have succeeded and started process-wide state: a running profiler
        # records every later op (a later memory test saw 260 MiB of growth)
        env[0].eval("catch {torch::profiler_stop}")
        os.chdir(here)


def _env():
    interp = tcltorch.Interp()
    tensor = interp.eval("torch::tensor_create {{1 2} {3 4}}")
    layer = interp.eval("torch::linear 2 2")
    optimizer = interp.eval(f"torch::optimizer_sgd [torch::layer_parameters {layer}] 0.1")
    keep = {tensor, layer, optimizer}
    handles = {"tensor": tensor, "module": layer, "linear": layer, None: tensor, "optimizer": optimizer}
    return interp, [tensor, "1", "{1 2}", "1.0", layer, "x", "{}"], handles, keep


def _required_args(env, cmd, skip):
    """-flag value pairs for the command's other required options (values that convert), or None."""
    interp, candidates, handles, _ = env
    args: list[str] = []
    for opt in cmd._head:
        if opt is skip or not opt.required:
            continue
        if isinstance(opt.type, Handle):
            if opt.type.kind not in handles:
                return None
            args += [opt.flag, handles[opt.type.kind]]
            continue
        for word in candidates:
            try:
                opt.type.convert(word, opt.flag, interp._session)
            except Exception:  # noqa: BLE001, S112 (this candidate does not fit; try the next)
                continue
            args += [opt.flag, word]
            break
        else:
            return None
    return args


def _message(env, name, args) -> str | None:
    interp, _, _, keep = env
    try:
        interp.call("torch::" + name, *args)
        message = None
    except Exception as exc:  # noqa: BLE001 (every failure is what is checked)
        message = str(exc)
    for handle in interp.handles():
        if handle not in keep:
            interp.free(handle)
    return message


def _option_cases(integer_only: bool):
    for name, cmd in sorted(load_all().items()):
        if cmd.tail is not None:
            continue
        opts = [
            o
            for o in cmd._head
            if not integer_only
            or isinstance(o.type, (Int, IntList, Shape))
            or (isinstance(o.type, Custom) and "integer" in o.type.requirement)
        ]
        for opt in opts if integer_only else opts[:1]:
            yield name, cmd, opt


def test_integer_options_beyond_int64_are_tcl_errors(env):
    bad, tried = [], 0
    for name, cmd, opt in _option_cases(integer_only=True):
        args = _required_args(env, cmd, opt)
        if args is None:
            continue
        tried += 1
        message = _message(env, name, [*args, opt.flag, TOO_BIG])
        if message is not None and any(word in message for word in PYTHON_WORDS):
            bad.append((name, opt.flag, message[:160]))
    assert tried > 300
    assert not bad, bad


def test_integer_beyond_int64_names_option_and_range(interp):
    with pytest.raises(tcltorch.TclError) as info:
        interp.eval(f"torch::tensor_sum [torch::ones {{2 2}}] -dim {TOO_BIG}")
    assert info.value.message == (
        f'invalid -dim "{TOO_BIG}": must be a list of integers from {-(2**63)} to {2**63 - 1}'
    )
    with pytest.raises(tcltorch.TclError) as info:
        interp.eval(f"torch::tensor_softmax [torch::ones {{2 2}}] {TOO_BIG}")
    assert (
        info.value.message == f'invalid -dim "{TOO_BIG}": must be an integer from {-(2**63)} to {2**63 - 1}'
    )
    with pytest.raises(tcltorch.TclError) as info:
        interp.eval(f"torch::zeros {{2 {TOO_BIG}}}")
    assert "must be a list of integers from 0 to" in info.value.message


def test_long_words_are_cut_in_every_message(env):
    word = "x" * 100_000
    long_messages, tried = [], 0
    for name, cmd, opt in _option_cases(integer_only=False):
        args = _required_args(env, cmd, opt)
        if args is None:
            continue
        tried += 1
        message = _message(env, name, [*args, opt.flag, word])
        # Tcl's own words stay whole, as tclsh says them: a script's unknown command, and a
        # file name (`open` shows it all; tcltorch/commands/train/_files.py keeps it so)
        if message is None or message.startswith(TCL_OWN):
            continue
        if len(message) >= 2000:
            long_messages.append((name, opt.flag, message[:120]))
    assert tried > 400
    assert not long_messages, long_messages


@pytest.mark.parametrize(
    "script",
    [
        "torch::transformer_encoder [torch::transformer_encoder_layer 8 2 16 0.0] [expr {2**62}]",
        "torch::transformer_decoder [torch::transformer_decoder_layer 8 2 16 0.0] 20000",
        "torch::gru 3 4 [expr {2**62}]",
    ],
)
def test_layer_count_is_bounded(interp, script):
    with pytest.raises(tcltorch.TclError) as info:
        interp.eval(script)
    assert info.value.message.startswith('invalid -numLayers "')
    assert "must be an integer from 1 to 10000" in info.value.message
    assert info.value.errorcode == ["TORCH", "VALUE", "-numLayers"]


def test_layer_count_checked_against_free_memory(interp):
    # 9000 copies of a 12 MB layer: about 113 GB, refused before any copy is made
    with pytest.raises(tcltorch.TclError) as info:
        interp.eval("torch::transformer_encoder [torch::transformer_encoder_layer 512 8 2048 0.0] 9000")
    assert "bytes of memory free" in info.value.message
    with pytest.raises(tcltorch.TclError) as info:
        interp.eval("torch::lstm 30000 30000 5000")
    assert "bytes of memory free" in info.value.message
    assert (
        interp.eval(
            "torch::count_parameters [torch::transformer_encoder [torch::transformer_encoder_layer 8 2 16 0.0] 3]"
        )
        == "1800"
    )
