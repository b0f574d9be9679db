"""Data and state reliability (issue 8) through the Python host: saving never replaces a
non-regular file, damaged records are refused by their CRC, stale temporary files of killed
saves are cleaned up, a disk-full error says so, checkpoint contents are validated with the
constructor's rules, a load is all-or-nothing even when KeyboardInterrupt lands anywhere in
it, and failed optimizer constructors and steps change nothing."""

from __future__ import annotations

import copy
import errno
import os
import subprocess
import sys
import threading
import zipfile

import pytest
import torch
from helpers import deep_equal, mlp, snapshot, tampered_checkpoint, tcl_error, train_mse

from tcltorch import serialization as tio
from tcltorch.optim.adafactor import Adafactor


@pytest.fixture
def setup(interp, tmp_path):
    """A trained model + Adafactor (momentum), a checkpoint of that, then one more step."""
    model = mlp((4, 3, 2))
    opt = Adafactor(model.parameters(), beta1=0.9)
    train_mse(model, opt.step, opt.zero_grad, steps=2, seed=1, batch=5)
    hm, ho = interp.put(model), interp.put(opt)
    f = tmp_path / "c.ckpt"
    interp.eval(f"torch::save_checkpoint {hm} {ho} {{{f}}} 2 0.5")
    saved = snapshot(model, opt)
    train_mse(model, opt.step, opt.zero_grad, steps=1, seed=2, batch=5)
    return model, opt, hm, ho, f, saved


# -- 1. a FIFO or other non-regular target is refused and left alone -------------------------


def test_save_onto_fifo_is_refused(interp, tmp_path):
    h = interp.put(mlp((4, 3, 2)))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "link.pt"
    link.symlink_to(fifo.name)
    for target in (fifo, link):
        assert tcl_error(interp, f"torch::save_state_dict {h} {{{target}}}") == (
            f'invalid -file "{target}": is a FIFO, not a regular file',
            ["TORCH", "VALUE", "-file"],
        )
    assert fifo.is_fifo() and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.pt", "pipe"]


def test_load_from_fifo_is_refused_without_blocking(interp, tmp_path):
    h = interp.put(mlp((4, 3, 2)))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = {}

    def load():
        try:
            interp.eval(f"torch::load_state_dict {h} {{{fifo}}}")
        except Exception as exc:  # noqa: BLE001
            result["error"] = exc.message

    # the interpreter belongs to this thread: run the load here, with a watchdog that unblocks
    # an open() that would hang by opening the FIFO's other end
    watchdog = threading.Timer(10, lambda: open(fifo, "wb").close())
    watchdog.start()
    try:
        load()
    finally:
        watchdog.cancel()
    assert result == {"error": f'invalid -file "{fifo}": is a FIFO, not a regular file'}


# -- 2. load_checkpoint is all-or-nothing, also under KeyboardInterrupt -----------------------


def _old_or_new(model, opt, old, new):
    now = snapshot(model, opt)
    if deep_equal(now, old):
        return "old"
    if deep_equal(now, new):
        return "new"
    return "mixed"


def test_interrupt_at_every_tensor_copy(interp, setup, monkeypatch):
    """KeyboardInterrupt raised at the k-th Tensor.copy_ of a load, for every k."""
    model, opt, hm, ho, f, saved = setup
    old = snapshot(model, opt)
    real_copy = torch.Tensor.copy_
    calls = {"n": 0, "at": None}

    def copy_(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == calls["at"]:
            raise KeyboardInterrupt
        return real_copy(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "copy_", copy_)
    interp.eval(f"torch::load_checkpoint {hm} {ho} {{{f}}}")  # count the copies of one load
    total = calls["n"]
    assert total >= 4
    outcomes = set()
    for at in range(1, total + 1):
        interp.get(hm).load_state_dict(old[0])
        interp.get(ho).load_state_dict(old[1])
        assert _old_or_new(model, opt, old, saved) == "old"
        calls.update(n=0, at=at)
        try:
            interp.eval(f"torch::load_checkpoint {hm} {ho} {{{f}}}")
            outcomes.add(("ok", _old_or_new(model, opt, old, saved)))
        except KeyboardInterrupt:
            outcomes.add(("interrupted", _old_or_new(model, opt, old, saved)))
        except Exception as exc:  # noqa: BLE001 - the bridge reports an interrupt as a Tcl error
            assert "interrupted" in str(exc) or "KeyboardInterrupt" in repr(exc)
            outcomes.add(("interrupted", _old_or_new(model, opt, old, saved)))
    assert {state for _, state in outcomes} <= {"old", "new"}, outcomes
    assert ("interrupted", "old") in outcomes


def test_interrupt_at_sampled_lines(interp, setup):
    """KeyboardInterrupt raised by a trace function at ~80 points spread over every Python line
    a load runs (torch's load_state_dict code included): model and optimizer are always either
    both old or both new."""
    model, opt, hm, ho, f, saved = setup
    old = snapshot(model, opt)
    state = {"n": 0, "at": None}

    def tracer(frame, event, arg):
        if event == "line":
            state["n"] += 1
            if state["n"] == state["at"]:
                state["at"] = None
                raise KeyboardInterrupt
        return tracer

    def load():
        sys.settrace(tracer)
        try:
            interp.eval(f"torch::load_checkpoint {hm} {ho} {{{f}}}")
            return "ok"
        except BaseException:  # noqa: BLE001 - KeyboardInterrupt or the Tcl error made of it
            return "interrupted"
        finally:
            sys.settrace(None)

    state.update(n=0, at=None)
    assert load() == "ok"
    total = state["n"]
    commit_lines = range(max(1, total - 60), total + 1)  # the commit is at the end: every line
    points = sorted(set(range(1, total, max(1, total // 40))) | set(commit_lines))
    seen = {}
    for at in points:
        model.load_state_dict(old[0])
        opt.load_state_dict(old[1])
        state.update(n=0, at=at)
        how = load()
        seen.setdefault((how, _old_or_new(model, opt, old, saved)), []).append(at)
        assert torch.is_grad_enabled(), at  # no interrupted no_grad() left gradients off
    assert {s for _, s in seen} <= {"old", "new"}, {k: v[:5] for k, v in seen.items()}
    assert ("interrupted", "old") in seen


def test_failure_while_applying_the_model_restores_both(interp, setup, monkeypatch):
    model, opt, hm, ho, f, saved = setup
    old = snapshot(model, opt)
    real = model.load_state_dict

    def half_then_interrupt(state, strict=True):
        first = next(iter(state))
        with torch.no_grad():
            model.state_dict()[first].copy_(state[first])  # a part is already in
        raise KeyboardInterrupt

    monkeypatch.setattr(model, "load_state_dict", half_then_interrupt)
    with pytest.raises(BaseException):  # noqa: B017
        interp.eval(f"torch::load_checkpoint {hm} {ho} {{{f}}}")
    assert deep_equal(snapshot(model, opt), old)
    monkeypatch.setattr(model, "load_state_dict", real)
    interp.eval(f"torch::load_checkpoint {hm} {ho} {{{f}}}")
    assert deep_equal(snapshot(model, opt), saved)


# -- 3. a flipped bit in a record is refused by its CRC ------------------------------------


def test_flipped_bit_in_a_tensor_record_is_refused(interp, setup, tmp_path):
    model, opt, hm, ho, f, _saved = setup
    data = bytearray(f.read_bytes())
    with zipfile.ZipFile(f) as z:
        info = next(i for i in z.infolist() if "/data/" in i.filename and i.file_size >= 16)
    # the record's data starts after its local header (30 bytes + name + extra)
    n, e = (
        int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little"),
        int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little"),
    )
    start = info.header_offset + 30 + n + e
    data[start + 5] ^= 0x10  # one bit of one float
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(bytes(data))
    # torch itself loads it without a word
    assert not deep_equal(torch.load(bad, weights_only=True), torch.load(f, weights_only=True))
    before = snapshot(model, opt)
    for script in (f"torch::load_checkpoint {hm} {ho} {{{bad}}}",):
        assert tcl_error(interp, script) == (
            f'invalid -file "{bad}": is corrupt: its record "{info.filename}" does not match its checksum (CRC-32)',
            ["TORCH", "VALUE", "-file"],
        )
    assert deep_equal(snapshot(model, opt), before)
    g = tmp_path / "m.pt"
    interp.eval(f"torch::save_state_dict {hm} {{{g}}}")
    raw = bytearray(g.read_bytes())
    raw[-200] ^= 1  # the central directory's end: a damaged archive either way
    g.write_bytes(bytes(raw))
    message, code = tcl_error(interp, f"torch::load_state_dict {hm} {{{g}}}")
    assert message.startswith(f'invalid -file "{g}": is') and code == ["TORCH", "VALUE", "-file"]


# -- 4. stale temporary files of killed saves --------------------------------------------------


def _dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_next_save_removes_stale_temps(interp, tmp_path):
    h = interp.put(mlp((4, 3, 2)))
    f = tmp_path / "m.pt"
    dead = _dead_pid()
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        stale = tmp_path / f".m.pt.tmp-{dead}-0badcafe"
        alive = tmp_path / f".m.pt.tmp-{sleeper.pid}-0badcafe"
        other = tmp_path / f".n.pt.tmp-{dead}-0badcafe"
        for p in (stale, alive, other):
            p.write_bytes(b"x" * 1000)
        interp.eval(f"torch::save_state_dict {h} {{{f}}}")
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == sorted(["m.pt", alive.name, other.name])  # only the dead writer's temp of m.pt
    finally:
        sleeper.kill()
        sleeper.wait()


# -- 7. disk full ------------------------------------------------------------------------------


def test_disk_full_says_so(interp, setup, monkeypatch):
    _, _, hm, ho, f, _ = setup
    before = f.read_bytes()
    real_write = os.write
    written = {"n": 0}

    def write(fd, data):
        if written["n"] > 2000:
            raise OSError(errno.ENOSPC, "No space left on device")
        written["n"] += len(data)
        return real_write(fd, data)

    monkeypatch.setattr(tio.os, "write", write)
    assert tcl_error(interp, f"torch::save_checkpoint {hm} {ho} {{{f}}}") == (
        f'couldn\'t write "{f}": no space left on device',
        ["POSIX", "ENOSPC", "no space left on device"],
    )
    monkeypatch.undo()
    assert f.read_bytes() == before
    assert sorted(p.name for p in f.parent.iterdir()) == ["c.ckpt"]


# -- 5. checkpoint contents are validated with the constructor's rules -----------------------


def _set_group(key, value):
    return lambda d: d["optimizer"]["param_groups"][0].__setitem__(key, value)


ADAFACTOR_CASES = [
    (_set_group("lr", float("nan")), "its optimizer option -lr is nan: must be a finite number > 0"),
    (_set_group("lr", -5.0), "its optimizer option -lr is -5.0: must be a finite number > 0"),
    (_set_group("maximize", "yes"), 'its optimizer option -maximize is "yes": must be a boolean'),
    (_set_group("beta1", 1.5), "its optimizer option -beta1 is 1.5: must be a finite number < 1"),
    (_set_group("decay_rate", 0.0), "its optimizer option -decayRate is 0.0: must be -1.0 or 0 < |c| <= 1"),
    (
        lambda d: d["optimizer"]["state"][0].pop("col"),
        "does not fit {o}: parameter 0 is missing its col state",
    ),
    (lambda d: d["optimizer"]["state"][1].pop("v"), "does not fit {o}: parameter 1 is missing its v state"),
    (
        lambda d: d["optimizer"]["state"][0].pop("exp_avg"),
        "does not fit {o}: parameter 0 is missing its exp_avg state",
    ),
    (
        lambda d: d["optimizer"]["state"][0].__setitem__("step", -1),
        "does not fit {o}: the step count of parameter 0 is -1, must be a whole number >= 0",
    ),
    (
        lambda d: d["optimizer"]["state"][0].__setitem__("step", 2.5),
        "does not fit {o}: the step count of parameter 0 is 2.5, must be a whole number >= 0",
    ),
    (
        lambda d: d["optimizer"]["state"][0].__setitem__("row", torch.zeros(3, dtype=torch.int64)),
        "does not fit {o}: its row state is int64, expected a floating-point tensor",
    ),
    (lambda d: d.__setitem__("epoch", -3), "its epoch is -3: must be an integer >= 0"),
    (lambda d: d.__setitem__("loss", float("inf")), "its loss is inf: must be a finite number"),
]


@pytest.mark.parametrize("change,message", ADAFACTOR_CASES, ids=[m[:40] for _, m in ADAFACTOR_CASES])
def test_bad_adafactor_checkpoint_contents_are_refused(interp, setup, tmp_path, change, message):
    model, opt, hm, ho, f, _saved = setup
    bad = tmp_path / "bad.ckpt"
    tampered_checkpoint(f, bad, change)
    before = snapshot(model, opt)
    assert tcl_error(interp, f"torch::load_checkpoint {hm} {ho} {{{bad}}}") == (
        f'invalid -file "{bad}": ' + message.format(o=ho),
        ["TORCH", "VALUE", "-file"],
    )
    assert deep_equal(snapshot(model, opt), before)


def _adam_setup(interp, tmp_path, **kw):
    model = mlp((4, 3, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01, **kw)
    train_mse(model, opt.step, opt.zero_grad, steps=2, seed=1, batch=5)
    hm, ho = interp.put(model), interp.put(opt)
    f = tmp_path / "a.ckpt"
    interp.eval(f"torch::save_checkpoint {hm} {ho} {{{f}}}")
    train_mse(model, opt.step, opt.zero_grad, steps=1, seed=2, batch=5)
    return model, opt, hm, ho, f


@pytest.mark.parametrize(
    "change,message",
    [
        (_set_group("lr", float("nan")), "its optimizer option -lr is nan: must be a finite number > 0"),
        (
            _set_group("betas", (0.9, 1.0)),
            "its optimizer option -beta2 is 1.0: must be a finite number >= 0 and < 1",
        ),
        (_set_group("eps", -1.0), "its optimizer option -eps is -1.0: must be a finite number >= 0"),
        (_set_group("amsgrad", 1), "its optimizer option -amsgrad is 1: must be a boolean"),
        (_set_group("foreach", "no"), 'its optimizer option foreach is "no": must be a boolean'),
        (
            lambda d: d["optimizer"]["state"][0].__setitem__("step", torch.tensor(-1.0)),
            "does not fit {o}: the step count of parameter 0 is -1.0, must be a whole number >= 0",
        ),
        (
            lambda d: d["optimizer"]["state"][2].pop("exp_avg_sq"),
            "does not fit {o}: parameter 2 is missing its exp_avg_sq state",
        ),
    ],
    ids=["lr-nan", "beta2-1", "eps-neg", "amsgrad-int", "foreach-str", "step-neg", "missing-exp_avg_sq"],
)
def test_bad_adam_checkpoint_contents_are_refused(interp, tmp_path, change, message):
    model, opt, hm, ho, f = _adam_setup(interp, tmp_path)
    bad = tmp_path / "bad.ckpt"
    tampered_checkpoint(f, bad, change)
    before = snapshot(model, opt)
    got = tcl_error(interp, f"torch::load_checkpoint {hm} {ho} {{{bad}}}")
    assert got == (f'invalid -file "{bad}": ' + message.format(o=ho), ["TORCH", "VALUE", "-file"])
    assert deep_equal(snapshot(model, opt), before)


def test_sgd_nesterov_rule_of_the_constructor(interp, tmp_path):
    model = mlp((4, 3, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    train_mse(model, opt.step, opt.zero_grad, steps=1, seed=1, batch=5)
    hm, ho = interp.put(model), interp.put(opt)
    f, bad = tmp_path / "s.ckpt", tmp_path / "bad.ckpt"
    interp.eval(f"torch::save_checkpoint {hm} {ho} {{{f}}}")
    tampered_checkpoint(f, bad, _set_group("dampening", 0.5))
    message, code = tcl_error(interp, f"torch::load_checkpoint {hm} {ho} {{{bad}}}")
    assert message.startswith(
        f'invalid -file "{bad}": its optimizer options are refused by the constructor: '
    )
    assert "Nesterov" in message and code == ["TORCH", "VALUE", "-file"]


# -- 6. the saved options are restored (PyTorch's rule) ------------------------------------


def test_saved_options_are_restored(interp, tmp_path):
    a = mlp((4, 3, 2))
    hm = interp.put(a)
    saver = interp.eval(f"torch::optimizer_adafactor {hm} -lr 0.5")  # -beta1 -1.0 (default)
    train_mse(a, interp.get(saver).step, interp.get(saver).zero_grad, steps=1, seed=1, batch=5)
    f = tmp_path / "c.ckpt"
    interp.eval(f"torch::save_checkpoint {hm} {saver} {{{f}}}")
    loader = interp.eval(f"torch::optimizer_adafactor {hm} -beta1 0.9 -lr 0.1")
    interp.eval(f"torch::load_checkpoint {hm} {loader} {{{f}}}")
    options = interp.eval(f"dict get [torch::optimizer_info {loader}] options")
    assert interp.eval(f"dict get {{{options}}} beta1") == "-1.0"
    assert interp.eval(f"dict get {{{options}}} lr") == "0.5"


# -- 8. failed constructors and steps change nothing ---------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        "torch::optimizer_adam {t} -lr -1",
        "torch::optimizer_adamw {t} -beta1 2",
        "torch::optimizer_sgd {t} 0.1 -nesterov 1",
        "torch::optimizer_adafactor {t} -decayRate 5",
        "torch::optimizer_adam {t} -clipNorm 1 -clipValue 1",
        "torch::optimizer_rmsprop {t} -lr -1",
    ],
)
def test_failed_constructor_leaves_requires_grad(interp, script):
    t = torch.zeros(3)
    h = interp.put(t)
    with pytest.raises(Exception):  # noqa: B017
        interp.eval(script.format(t=h))
    assert t.requires_grad is False


def test_successful_constructor_makes_direct_tensors_trainable(interp):
    t = torch.zeros(3)
    interp.eval(f"torch::optimizer_adam {interp.put(t)}")
    assert t.requires_grad is True and t.is_leaf


@pytest.mark.parametrize("kind", ["adam", "adamw", "adafactor"])
def test_failed_step_advances_nothing(interp, kind):
    model = mlp((4, 3, 2))
    hm = interp.put(model)
    ho = interp.eval(f"torch::optimizer_{kind} {hm}")
    opt = interp.get(ho)
    train_mse(model, opt.step, opt.zero_grad, steps=1, seed=1, batch=5)
    model.to(torch.float64)  # the optimizer's state stays float32: the next step cannot work
    opt.zero_grad()
    model(torch.randn(5, 4, dtype=torch.float64)).sum().backward()
    before = snapshot(model, opt)
    message, code = tcl_error(interp, f"torch::optimizer_step {ho}")
    assert message.startswith("cannot step: the optimizer's ") and message.endswith("nothing was changed")
    assert code == ["TORCH", "STEP"]
    assert deep_equal(snapshot(model, opt), before)


@pytest.mark.parametrize("kind", ["adam", "sgd", "adafactor", "rmsprop"])
def test_step_failing_midway_restores_the_counters(interp, kind, monkeypatch):
    """An error (or an interrupt) inside the optimizer's own step puts the step counters and
    freshly created state back."""
    model = mlp((4, 3, 2))
    hm = interp.put(model)
    ho = interp.eval(
        f"torch::optimizer_{kind} {hm} -momentum 0.9" if kind == "sgd" else f"torch::optimizer_{kind} {hm}"
    )
    opt = interp.get(ho)
    train_mse(model, opt.step, opt.zero_grad, steps=1, seed=1, batch=5)
    opt.zero_grad()
    model(torch.randn(5, 4)).sum().backward()
    counters = copy.deepcopy(
        {id(p): {k: v for k, v in st.items() if k == "step"} for p, st in opt.state.items()}
    )
    keys = {id(p): set(st) for p, st in opt.state.items()}
    for exc in (RuntimeError("simulated"), KeyboardInterrupt()):

        def failing(*args, exc=exc, **kwargs):
            for st in opt.state.values():
                if "step" in st:
                    st["step"] += 1  # in place for a tensor counter, as torch's own steps do
            opt.state[torch.nn.Parameter(torch.zeros(1))]["fresh"] = 1
            raise exc

        monkeypatch.setattr(opt, "step", failing)
        with pytest.raises(BaseException):  # noqa: B017
            interp.eval(f"torch::optimizer_step {ho}")
        monkeypatch.undo()
        now = {id(p): {k: v for k, v in st.items() if k == "step"} for p, st in opt.state.items()}
        assert deep_equal(now, counters)
        assert {id(p): set(st) for p, st in opt.state.items()} == keys
