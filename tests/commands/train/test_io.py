"""torch::save_state_dict / load_state_dict / save_checkpoint / load_checkpoint through the
Python host: round trips, exact resume, atomic writes, refusal of code-running pickles, and
failed loads that change nothing."""

from __future__ import annotations

import errno
import os
import pickle

import pytest
import torch
from helpers import deep_equal, mlp, snapshot, tcl_error

from tcltorch import serialization as tio
from tcltorch.optim.adafactor import Adafactor


def _steps(model, opt, n, seed):
    g = torch.Generator().manual_seed(seed)
    loss = None
    for _ in range(n):
        x, y = torch.randn(8, 6, generator=g), torch.randn(8, model[2].out_features, generator=g)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    return loss.item()


@pytest.fixture
def trained(interp):
    """A model and an Adafactor optimizer (with momentum) after a few steps, both registered."""
    model = mlp()
    opt = Adafactor(model.parameters(), beta1=0.9)
    _steps(model, opt, 3, seed=1)
    return model, opt, interp.put(model), interp.put(opt)


# -- state dicts ---------------------------------------------------------------------


def test_state_dict_round_trip_both_forms(interp, tmp_path):
    a, b = mlp(seed=0), mlp(seed=1)
    ha, hb = interp.put(a), interp.put(b)
    f = tmp_path / "m.pt"
    assert interp.eval(f"torch::save_state_dict {ha} {{{f}}}") == str(f)
    assert not deep_equal(a.state_dict(), b.state_dict())
    assert interp.eval(f"torch::loadStateDict -file {{{f}}} -model {hb}") == hb
    assert deep_equal(a.state_dict(), b.state_dict())
    g = tmp_path / "n.pt"
    assert interp.eval(f"torch::saveStateDict -model {hb} -filename {{{g}}}") == str(g)
    assert interp.eval(f"torch::load_state_dict {ha} {{{g}}}") == ha


def test_state_dict_file_is_plain_pytorch(interp, tmp_path):
    a, b, c = mlp(seed=0), mlp(seed=1), mlp(seed=2)
    f, g = tmp_path / "from_tcl.pt", tmp_path / "from_python.pt"
    interp.eval(f"torch::save_state_dict {interp.put(a)} {{{f}}}")
    b.load_state_dict(torch.load(f, weights_only=True))
    assert deep_equal(a.state_dict(), b.state_dict())
    torch.save(c.state_dict(), g)
    interp.eval(f"torch::load_state_dict {interp.put(a)} {{{g}}}")
    assert deep_equal(a.state_dict(), c.state_dict())


def test_new_file_honours_umask(interp, tmp_path):
    f = tmp_path / "m.pt"
    old = os.umask(0o022)
    try:
        interp.eval(f"torch::save_state_dict {interp.put(mlp())} {{{f}}}")
    finally:
        os.umask(old)
    assert f.stat().st_mode & 0o777 == 0o644


def test_replacing_keeps_permissions_and_links(interp, tmp_path):
    h = interp.put(mlp())
    f = tmp_path / "m.pt"
    f.write_bytes(b"old")
    f.chmod(0o600)
    interp.eval(f"torch::save_state_dict {h} {{{f}}}")
    assert f.stat().st_mode & 0o777 == 0o600 and f.read_bytes() != b"old"
    link = tmp_path / "latest.pt"
    link.symlink_to(f.name)
    interp.eval(f"torch::save_state_dict {h} {{{link}}}")
    assert (
        link.is_symlink() and torch.load(link, weights_only=True).keys() == interp.get(h).state_dict().keys()
    )


# -- checkpoints -------------------------------------------------------------------


def test_checkpoint_format(interp, trained, tmp_path):
    model, opt, hm, ho = trained
    f = tmp_path / "c.ckpt"
    assert interp.eval(f"torch::save_checkpoint {hm} {ho} {{{f}}} 7 0.125") == str(f)
    data = torch.load(f, weights_only=True)
    assert data["format"] == "tcltorch.checkpoint" and data["version"] == 1
    assert (data["epoch"], data["loss"], data["optimizer_class"]) == (7, 0.125, "Adafactor")
    assert deep_equal(data["model"], model.state_dict())
    assert deep_equal(data["optimizer"], opt.state_dict())


@pytest.mark.parametrize(
    "make",
    [
        lambda p: Adafactor(p, beta1=0.9),
        lambda p: Adafactor(p),
        lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True),
        lambda p: torch.optim.AdamW(p, lr=0.01),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    ],
    ids=["adafactor-momentum", "adafactor", "adam", "adamw", "sgd"],
)
def test_resume_is_exact(interp, tmp_path, make):
    f = tmp_path / "c.ckpt"
    # straight: 3 + 4 steps
    straight = mlp()
    sopt = make(straight.parameters())
    _steps(straight, sopt, 3, seed=1)
    hs, hso = interp.put(straight), interp.put(sopt)
    interp.eval(f"torch::save_checkpoint -model {hs} -optimizer {hso} -file {{{f}}} -epoch 3 -loss 0.5")
    final_straight = _steps(straight, sopt, 4, seed=2)
    # resumed: a fresh model (other weights) and optimizer, loaded from the checkpoint
    resumed = mlp(seed=99)
    ropt = make(resumed.parameters())
    hr, hro = interp.put(resumed), interp.put(ropt)
    assert interp.eval(f"torch::loadCheckpoint {hr} {hro} {{{f}}}") == "epoch 3 loss 0.5"
    final_resumed = _steps(resumed, ropt, 4, seed=2)
    assert final_resumed == final_straight
    assert deep_equal(resumed.state_dict(), straight.state_dict())
    assert deep_equal(ropt.state_dict(), sopt.state_dict())


def test_resume_restores_hyperparameters(interp, trained, tmp_path):
    _, _, hm, ho = trained
    f = tmp_path / "c.ckpt"
    interp.eval(f"torch::set_lr {ho} 0.3")
    interp.eval(f"torch::save_checkpoint {hm} {ho} {{{f}}}")
    interp.eval(f"torch::set_lr {ho} 0.01")
    assert (
        interp.eval(f"torch::load_checkpoint -model {hm} -optimizer {ho} -filename {{{f}}}")
        == "epoch 0 loss 0.0"
    )
    assert interp.eval(f"torch::get_lr {ho}") == "0.3"


def test_loss_full_precision(interp, trained, tmp_path):
    _, _, hm, ho = trained
    f = tmp_path / "c.ckpt"
    interp.eval(f"torch::save_checkpoint {hm} {ho} {{{f}}} -loss 0.1234567890123456789 -epoch 12")
    result = interp.eval(f"torch::load_checkpoint {hm} {ho} {{{f}}}")
    assert float(interp.eval(f"dict get {{{result}}} loss")) == 0.1234567890123456789
    assert interp.eval(f"dict get {{{result}}} epoch") == "12"


# -- atomic writes -------------------------------------------------------------------


def _leftovers(directory):
    """Temporary files of saves (``.NAME.tmp-PID-RANDOM``)."""
    return sorted(p.name for p in directory.iterdir() if ".tmp-" in p.name or p.name.endswith(".tmp"))


@pytest.mark.parametrize(
    "failure,message,code",
    [
        (RuntimeError("disk on fire"), "disk on fire", ["TORCH", "RuntimeError"]),
        (OSError(errno.ENOSPC, "No space left on device"), "no space left on device", ["POSIX", "ENOSPC"]),
    ],
    ids=["exception", "enospc"],
)
def test_crash_mid_save_keeps_old_file(interp, trained, tmp_path, monkeypatch, failure, message, code):
    _, _, hm, ho = trained
    f = tmp_path / "c.ckpt"
    interp.eval(f"torch::save_checkpoint {hm} {ho} {{{f}}} 1 1.0")
    before = f.read_bytes()

    def half_then_fail(obj, stream):
        stream.write(b"PK\x03\x04 partial checkpoint bytes" * 100)  # some bytes reach the temp file
        raise failure

    monkeypatch.setattr(tio, "_serialize", half_then_fail)
    got_message, got_code = tcl_error(interp, f"torch::save_checkpoint {hm} {ho} {{{f}}} 2 2.0")
    assert message in got_message and got_code[: len(code)] == code
    assert f.read_bytes() == before
    assert _leftovers(tmp_path) == []
    monkeypatch.undo()
    assert interp.eval(f"torch::load_checkpoint {hm} {ho} {{{f}}}") == "epoch 1 loss 1.0"


def test_crash_at_fsync_or_rename_keeps_old_file(interp, tmp_path, monkeypatch):
    h = interp.put(mlp())
    f = tmp_path / "m.pt"
    interp.eval(f"torch::save_state_dict {h} {{{f}}}")
    before = f.read_bytes()
    interp.get(h)[0].weight.data.add_(1)
    for name in ("fsync", "replace"):

        def boom(*args, **kwargs):
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(tio.os, name, boom)
        assert tcl_error(interp, f"torch::save_state_dict {h} {{{f}}}") == (
            f'couldn\'t write "{f}": input/output error',
            ["POSIX", "EIO", "input/output error"],
        )
        monkeypatch.undo()
        assert f.read_bytes() == before
        assert _leftovers(tmp_path) == []


def test_save_errors(interp, tmp_path):
    h = interp.put(mlp())
    missing_dir = tmp_path / "no" / "such"
    assert tcl_error(interp, f"torch::save_state_dict {h} {{{missing_dir / 'm.pt'}}}") == (
        f'couldn\'t write "{missing_dir / "m.pt"}": no such file or directory',
        ["POSIX", "ENOENT", "no such file or directory"],
    )
    assert tcl_error(interp, f"torch::save_state_dict {h} {{{tmp_path}}}") == (
        f'couldn\'t write "{tmp_path}": is a directory',
        ["POSIX", "EISDIR", "is a directory"],
    )
    assert tcl_error(interp, f"torch::save_state_dict {h} {{}}") == (
        'invalid -file "": must be a file name',
        ["TORCH", "VALUE", "-file"],
    )
    t = interp.put(torch.ones(2))
    assert tcl_error(interp, f"torch::save_state_dict {t} x.pt") == (
        f'"{t}" is a tensor, expected a module',
        ["TORCH", "HANDLE", t],
    )
    assert tcl_error(interp, f"torch::save_checkpoint {h} {h} x.pt") == (
        f'"{h}" is a sequential module, expected an optimizer',
        ["TORCH", "HANDLE", h],
    )
    opt = interp.eval(f"torch::optimizer_sgd {h}")
    assert tcl_error(interp, f"torch::save_checkpoint {h} {opt} x.pt -epoch -1") == (
        'invalid -epoch "-1": must be an integer >= 0',
        ["TORCH", "VALUE", "-epoch"],
    )
    assert tcl_error(interp, f"torch::save_checkpoint {h} {opt} x.pt -loss nan") == (
        'invalid -loss "nan": must be a finite number',
        ["TORCH", "VALUE", "-loss"],
    )
    assert tcl_error(interp, f"torch::save_checkpoint {h} {opt}") == (
        'wrong # args: should be "torch::save_checkpoint model optimizer file ?epoch? ?loss? ?lr? ?-option value ...?"',
        ["TCL", "WRONGARGS"],
    )
    assert _leftovers(tmp_path) == []


# -- loading never runs code -------------------------------------------------------------


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # unpickling this calls open(marker, "w"): it would create the file
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("how", ["torch.save", "pickle-protocol-2", "inside-checkpoint"])
def test_malicious_pickle_is_refused(interp, trained, tmp_path, how):
    model, opt, hm, ho = trained
    marker = tmp_path / "pwned"
    f = tmp_path / "evil.pt"
    if how == "torch.save":
        torch.save({"0.weight": _Evil(str(marker))}, f)
    elif how == "pickle-protocol-2":
        with open(f, "wb") as stream:
            pickle.dump({"0.weight": _Evil(str(marker))}, stream, protocol=2)
    else:
        torch.save(
            {
                "format": "tcltorch.checkpoint",
                "version": 1,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "optimizer_class": "Adafactor",
                "epoch": _Evil(str(marker)),
                "loss": 0.0,
            },
            f,
        )
    # make sure the payload is real: an unrestricted load runs it
    if how != "inside-checkpoint":
        try:
            torch.load(f, weights_only=False)
        except RuntimeError:  # a bare pickle: runs the payload, then finds no magic number
            pass
        assert marker.exists()
        marker.unlink()
    before = snapshot(model, opt)
    for script in (f"torch::load_state_dict {hm} {{{f}}}", f"torch::load_checkpoint {hm} {ho} {{{f}}}"):
        message, code = tcl_error(interp, script)
        assert message.startswith(
            f'invalid -file "{f}": refused: the file holds Python objects other than '
            "tensors and plain data, which could run code"
        )
        assert code == ["TORCH", "VALUE", "-file"]
        assert not marker.exists()
    assert deep_equal(snapshot(model, opt), before)


def test_refusal_names_the_global(interp, tmp_path):
    f = tmp_path / "evil.pt"
    torch.save({"w": _Evil(str(tmp_path / "x"))}, f)
    message, _ = tcl_error(interp, f"torch::load_state_dict {interp.put(mlp())} {{{f}}}")
    assert message.endswith("(Unsupported global: GLOBAL io.open)")


# -- failed loads change nothing ---------------------------------------------------------


def test_missing_and_unreadable_files(interp, trained, tmp_path):
    model, opt, hm, ho = trained
    before = snapshot(model, opt)
    nope = tmp_path / "nope.ckpt"
    for script in (f"torch::load_state_dict {hm} {{{nope}}}", f"torch::load_checkpoint {hm} {ho} {{{nope}}}"):
        assert tcl_error(interp, script) == (
            f'couldn\'t open "{nope}": no such file or directory',
            ["POSIX", "ENOENT", "no such file or directory"],
        )
    assert tcl_error(interp, f"torch::load_state_dict {hm} {{{tmp_path}}}") == (
        f'couldn\'t open "{tmp_path}": is a directory',
        ["POSIX", "EISDIR", "is a directory"],
    )
    for content in (b"", b"hello world", b"PK\x03\x04garbage"):
        bad = tmp_path / "bad.pt"
        bad.write_bytes(content)
        for script in (
            f"torch::load_state_dict {hm} {{{bad}}}",
            f"torch::load_checkpoint {hm} {ho} {{{bad}}}",
        ):
            assert tcl_error(interp, script) == (
                f'invalid -file "{bad}": is not a PyTorch file, or it is truncated or corrupt',
                ["TORCH", "VALUE", "-file"],
            )
    assert deep_equal(snapshot(model, opt), before)


def test_truncated_checkpoint_changes_nothing(interp, trained, tmp_path):
    model, opt, hm, ho = trained
    good = tmp_path / "good.ckpt"
    interp.eval(f"torch::save_checkpoint {hm} {ho} {{{good}}} 4 0.5")
    data = good.read_bytes()
    _steps(model, opt, 2, seed=5)  # move away from the saved state
    before = snapshot(model, opt)
    cut = tmp_path / "cut.ckpt"
    for size in (1, 100, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1):
        cut.write_bytes(data[:size])
        assert tcl_error(interp, f"torch::load_checkpoint {hm} {ho} {{{cut}}}") == (
            f'invalid -file "{cut}": is not a PyTorch file, or it is truncated or corrupt',
            ["TORCH", "VALUE", "-file"],
        )
        assert deep_equal(snapshot(model, opt), before)
    assert interp.eval(f"torch::load_checkpoint {hm} {ho} {{{good}}}") == "epoch 4 loss 0.5"


def test_mismatched_model_changes_nothing(interp, trained, tmp_path):
    model, _, hm, ho = trained
    f, g = tmp_path / "c.ckpt", tmp_path / "m.pt"
    interp.eval(f"torch::save_checkpoint {hm} {ho} {{{f}}}")
    interp.eval(f"torch::save_state_dict {hm} {{{g}}}")
    other = mlp((6, 5, 4))  # last layer 5 -> 4 instead of 5 -> 3
    other_opt = Adafactor(other.parameters(), beta1=0.9)
    _steps(other, other_opt, 1, seed=3)
    h2, ho2 = interp.put(other), interp.put(other_opt)
    before = snapshot(other, other_opt)
    shape_msg = "does not fit {}: 2.weight has shape {{3 5}} in the file, {{4 5}} in the model"
    assert tcl_error(interp, f"torch::load_state_dict {h2} {{{g}}}") == (
        f'invalid -file "{g}": ' + shape_msg.format(h2),
        ["TORCH", "VALUE", "-file"],
    )
    assert tcl_error(interp, f"torch::load_checkpoint {h2} {ho2} {{{f}}}") == (
        f'invalid -file "{f}": ' + shape_msg.format(h2),
        ["TORCH", "VALUE", "-file"],
    )
    assert deep_equal(snapshot(other, other_opt), before)
    # keys that do not match
    deeper = torch.nn.Sequential(
        torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3), torch.nn.Linear(3, 3)
    )
    h3 = interp.put(deeper)
    assert tcl_error(interp, f"torch::load_state_dict {h3} {{{g}}}") == (
        f'invalid -file "{g}": does not fit {h3}: missing 3.weight, 3.bias',
        ["TORCH", "VALUE", "-file"],
    )
    shallow = torch.nn.Sequential(torch.nn.Linear(6, 5))
    h4 = interp.put(shallow)
    assert tcl_error(interp, f"torch::load_state_dict {h4} {{{g}}}") == (
        f'invalid -file "{g}": does not fit {h4}: unexpected 2.weight, 2.bias',
        ["TORCH", "VALUE", "-file"],
    )
    # a tensor of another kind of dtype
    torch.save({**model.state_dict(), "0.bias": torch.zeros(5, dtype=torch.int64)}, g)
    assert tcl_error(interp, f"torch::load_state_dict {hm} {{{g}}}") == (
        f'invalid -file "{g}": does not fit {hm}: 0.bias is int64 in the file, float32 in the model',
        ["TORCH", "VALUE", "-file"],
    )


def test_wrong_file_kind(interp, trained, tmp_path):
    model, opt, hm, ho = trained
    f, g, h = tmp_path / "c.ckpt", tmp_path / "m.pt", tmp_path / "x.pt"
    interp.eval(f"torch::save_checkpoint {hm} {ho} {{{f}}}")
    interp.eval(f"torch::save_state_dict {hm} {{{g}}}")
    torch.save([1, 2, 3], h)
    _steps(model, opt, 1, seed=9)
    before = snapshot(model, opt)
    assert tcl_error(interp, f"torch::load_checkpoint {hm} {ho} {{{g}}}") == (
        f'invalid -file "{g}": is a model state dict, not a checkpoint (use torch::load_state_dict)',
        ["TORCH", "VALUE", "-file"],
    )
    assert tcl_error(interp, f"torch::load_state_dict {hm} {{{f}}}") == (
        f'invalid -file "{f}": is a checkpoint, not a state dict (use torch::load_checkpoint)',
        ["TORCH", "VALUE", "-file"],
    )
    assert tcl_error(interp, f"torch::load_checkpoint {hm} {ho} {{{h}}}") == (
        f'invalid -file "{h}": is not a tcltorch checkpoint',
        ["TORCH", "VALUE", "-file"],
    )
    assert tcl_error(interp, f"torch::load_state_dict {hm} {{{h}}}") == (
        f'invalid -file "{h}": does not hold a model state dict',
        ["TORCH", "VALUE", "-file"],
    )
    assert deep_equal(snapshot(model, opt), before)


def test_mismatched_optimizer_changes_nothing(interp, trained, tmp_path):
    model, opt, hm, ho = trained
    f = tmp_path / "c.ckpt"
    interp.eval(f"torch::save_checkpoint {hm} {ho} {{{f}}} 2 0.25")
    _steps(model, opt, 1, seed=4)
    adam = torch.optim.Adam(model.parameters())
    _steps(model, adam, 1, seed=4)
    ha = interp.put(adam)
    before = snapshot(model, adam)
    assert tcl_error(interp, f"torch::load_checkpoint {hm} {ha} {{{f}}}") == (
        f'invalid -file "{f}": holds adafactor optimizer state; {ha} is an adam optimizer',
        ["TORCH", "VALUE", "-file"],
    )
    assert deep_equal(snapshot(model, adam), before)
    # same kind, but over only some of the parameters
    part = Adafactor(list(model.parameters())[:2])
    hp = interp.put(part)
    message, code = tcl_error(interp, f"torch::load_checkpoint {hm} {hp} {{{f}}}")
    assert (message, code) == (
        f'invalid -file "{f}": does not fit {hp}: the file has 4 parameters, the optimizer 2 parameters',
        ["TORCH", "VALUE", "-file"],
    )
    # optimizer state of the right kind and count but the wrong shapes
    data = torch.load(f, weights_only=True)
    state = data["optimizer"]["state"]
    state[0]["row"] = torch.zeros(7)
    torch.save(data, f)
    before = snapshot(model, opt)
    assert tcl_error(interp, f"torch::load_checkpoint {hm} {ho} {{{f}}}") == (
        f'invalid -file "{f}": does not fit {ho}: its row state has shape {{7}}, expected {{5}}',
        ["TORCH", "VALUE", "-file"],
    )
    assert deep_equal(snapshot(model, opt), before)


def test_newer_format_version_is_refused(interp, trained, tmp_path):
    _, _, hm, ho = trained
    f = tmp_path / "c.ckpt"
    interp.eval(f"torch::save_checkpoint {hm} {ho} {{{f}}}")
    data = torch.load(f, weights_only=True)
    data["version"] = 2
    torch.save(data, f)
    assert tcl_error(interp, f"torch::load_checkpoint {hm} {ho} {{{f}}}") == (
        f'invalid -file "{f}": has checkpoint format version 2; this tcltorch reads version 1',
        ["TORCH", "VALUE", "-file"],
    )


def test_failure_while_applying_rolls_the_optimizer_back(interp, trained, tmp_path, monkeypatch):
    model, opt, hm, ho = trained
    f = tmp_path / "c.ckpt"
    interp.eval(f"torch::save_checkpoint {hm} {ho} {{{f}}}")
    _steps(model, opt, 1, seed=6)
    before = snapshot(model, opt)

    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(model, "load_state_dict", broken)
    assert tcl_error(interp, f"torch::load_checkpoint {hm} {ho} {{{f}}}") == (
        "simulated failure",
        ["TORCH", "RuntimeError"],
    )
    assert deep_equal(snapshot(model, opt), before)
