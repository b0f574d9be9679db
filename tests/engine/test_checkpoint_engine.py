"""The files and checkpoints engines (tcltorch.serialization, tcltorch.checkpoint,
tcltorch.train_state) from plain Python and through the Tcl commands (issues 19 and 20): an
all-or-nothing load over model, optimizer, schedulers and scalers; scheduler and scaler states
checked by the constructors' rules; a learning rate of 0 resumes; a read-only target is refused;
Ctrl-C around the rename; clear errors for odd files and zip bombs; integer CSV columns."""

from __future__ import annotations

import copy
import math
import os
import stat
import zipfile

import numpy as np
import pytest
import torch
from helpers import tampered_checkpoint

import tcltorch
from tcltorch import checkpoint, serialization, train_state
from tcltorch.serialization import SerializationError


def _err(interp, script):
    with pytest.raises(Exception) as info:
        interp.eval(script)
    exc = info.value
    return getattr(exc, "message", str(exc)), exc.errorcode


@pytest.fixture
def tcl(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tcltorch.Interp()


# -- the Python API ----------------------------------------------------------------------------


def _trained_adam_with_steplr():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        opt.zero_grad()
        model(torch.ones(4, 3)).sum().backward()
        opt.step()
        sched.step()
    return model, opt, sched


def test_python_save_and_load_round_trip(tmp_path):
    model, opt, sched = _trained_adam_with_steplr()
    path = str(tmp_path / "run.ckpt")
    assert checkpoint.save(path, model, opt, schedulers=[sched], epoch=3, loss=0.25) == path
    torch.manual_seed(1)
    other = torch.nn.Linear(3, 2)
    other_opt = torch.optim.Adam(other.parameters(), lr=0.5)
    other_sched = torch.optim.lr_scheduler.StepLR(other_opt, step_size=7, gamma=0.9)
    assert checkpoint.load(path, other, other_opt, schedulers=[other_sched]) == {"epoch": 3, "loss": 0.25}
    assert torch.equal(other.weight, model.weight) and torch.equal(other.bias, model.bias)
    assert other_sched.state_dict() == sched.state_dict()
    assert other_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    info = checkpoint.info(path)
    assert info["kind"] == "checkpoint" and info["epoch"] == 3 and info["steps"] == 3
    assert info["schedulers"] == 1 and info["optimizer"] == "Adam"


def test_python_refusal_is_a_value_error_naming_the_file(tmp_path):
    model, opt, _ = _trained_adam_with_steplr()
    path = str(tmp_path / "run.ckpt")
    checkpoint.save(path, model, opt)
    wrong = torch.nn.Linear(4, 2)
    with pytest.raises(checkpoint.CheckpointError) as info:
        checkpoint.load(path, wrong, torch.optim.Adam(wrong.parameters()))
    assert isinstance(info.value, ValueError) and info.value.file == path
    assert (
        info.value.problem == "does not fit the model: weight has shape {2 3} in the file, {2 4} in the model"
    )


# -- issue 20.1: all or nothing, schedulers included ----------------------------------------------


BACKWARD = "torch::tensor_backward [torch::tensor_sum [torch::layer_forward $m [torch::ones {1 2}]]]"


def _tcl_run(tcl, extra=""):
    tcl.eval("set m [torch::linear 2 1]")
    tcl.eval("set opt [torch::optimizer_sgd $m 0.1]")
    tcl.eval("set lam [torch::lr_scheduler_lambda $opt 0.5]")
    tcl.eval("set pl [torch::lr_scheduler_plateau $opt]")
    tcl.eval("set step [torch::lr_scheduler_step $opt 2 0.5]")
    tcl.eval(extra)


@pytest.mark.parametrize(
    "change,message",
    [
        (
            lambda d: d["schedulers"][1].__setitem__("mode", "bogus"),
            'its ReduceLROnPlateau scheduler state has mode "bogus": must be min or max',
        ),
        (
            lambda d: d["schedulers"][0].__setitem__("lr_lambdas", [5]),
            "its LambdaLR scheduler state has lr_lambdas {5}: does not fit the scheduler's multipliers",
        ),
    ],
    ids=["plateau-mode", "lambda-5"],
)
def test_bad_scheduler_state_changes_nothing(tcl, change, message):
    _tcl_run(tcl)
    tcl.eval("torch::save_checkpoint $m $opt a.ckpt -scheduler [list $lam $pl $step]")
    tampered_checkpoint("a.ckpt", "bad.ckpt", change)
    model = tcl.get(tcl.eval("set m"))
    with torch.no_grad():
        model.weight.fill_(7.0)
    sched_before = [tcl.get(tcl.eval(f"set {n}")).state_dict() for n in ("lam", "pl", "step")]
    w_before = model.weight.tolist()
    opt_before = copy.deepcopy(tcl.get(tcl.eval("set opt")).state_dict())
    got = _err(tcl, "torch::load_checkpoint $m $opt bad.ckpt -scheduler [list $lam $pl $step]")
    assert got == ('invalid -file "bad.ckpt": ' + message, ["TORCH", "VALUE", "-file"])
    assert model.weight.tolist() == w_before == [[7.0, 7.0]]
    assert tcl.get(tcl.eval("set opt")).state_dict() == opt_before
    after = [tcl.get(tcl.eval(f"set {n}")).state_dict() for n in ("lam", "pl", "step")]
    assert after == sched_before


def test_interrupt_while_committing_schedulers_restores_everything(tcl, monkeypatch):
    """A KeyboardInterrupt at the last scheduler's assignment: model, optimizer and the
    schedulers already swapped are all put back."""
    _tcl_run(tcl)
    tcl.eval("torch::save_checkpoint $m $opt a.ckpt -scheduler [list $lam $step]")
    tcl.eval(
        "torch::optimizer_step $opt; torch::lr_scheduler_step_update $lam; torch::lr_scheduler_step_update $step"
    )
    lam, step = tcl.get(tcl.eval("set lam")), tcl.get(tcl.eval("set step"))
    before = (lam.state_dict(), step.state_dict(), copy.deepcopy(tcl.get(tcl.eval("set opt")).state_dict()))
    original = step.__dict__
    real_setattr = object.__setattr__

    def guarded(obj, name, value):
        if obj is step and name == "__dict__" and value is not original:
            raise KeyboardInterrupt  # lands as the last scheduler's new state goes in
        return real_setattr(obj, name, value)

    monkeypatch.setattr(type(step), "__setattr__", guarded, raising=False)
    with pytest.raises(BaseException):  # noqa: B017 - the interrupt, in whatever form it reaches the host
        tcl.eval("torch::load_checkpoint $m $opt a.ckpt -scheduler [list $lam $step]")
    monkeypatch.undo()
    assert (lam.state_dict(), step.state_dict(), tcl.get(tcl.eval("set opt")).state_dict()) == before


# -- issue 20.2: scheduler and scaler states by the constructors' rules ------------------------


def _set_sched(i, key, value):
    return lambda d: d["schedulers"][i].__setitem__(key, value)


BAD_STATES = [
    (
        _set_sched(2, "gamma", float("nan")),
        "its StepLR scheduler state has gamma nan: must be a finite number > 0",
    ),
    (
        _set_sched(2, "step_size", "x"),
        'its StepLR scheduler state has step_size "x": must be a whole number >= 1',
    ),
    (
        _set_sched(2, "step_size", 0),
        "its StepLR scheduler state has step_size 0: must be a whole number >= 1",
    ),
    (
        _set_sched(2, "last_epoch", "x"),
        'its StepLR scheduler state has last_epoch "x": must be a whole number >= -1',
    ),
    (_set_sched(2, "last_epoch", 10**30), "its StepLR scheduler state has last_epoch 10000000000"),
    (_set_sched(2, "step", 3), "its StepLR scheduler state does not fit the scheduler: unexpected step"),
    (
        _set_sched(2, "optimizer", 3),
        "its StepLR scheduler state does not fit the scheduler: unexpected optimizer",
    ),
    (
        _set_sched(1, "factor", float("nan")),
        "its ReduceLROnPlateau scheduler state has factor nan: must be a finite number > 0 and < 1",
    ),
    (
        lambda d: d["schedulers"][2].pop("gamma"),
        "its StepLR scheduler state does not fit the scheduler: missing gamma",
    ),
    (
        lambda d: d["scalers"][0].__setitem__("scale", 1e308),
        "its grad scaler state has scale 1e+308, growth 2.0, backoff 0.5",
    ),
    (
        lambda d: d["optimizer"]["state"][0].__setitem__("momentum_buffer", torch.zeros(5)),
        "does not fit optimizer",  # the handle's name follows
    ),
]


@pytest.mark.parametrize("change,message", BAD_STATES, ids=[m[:40] for _, m in BAD_STATES])
def test_bad_states_are_refused_at_load(tcl, change, message):
    _tcl_run(tcl, "set sc [torch::grad_scaler_new -deviceType cpu]")
    tcl.eval("set opt2 [torch::optimizer_sgd $m 0.1 0.9]")
    tcl.eval(f"{BACKWARD}; torch::optimizer_step $opt2")
    tcl.eval("set lam [torch::lr_scheduler_lambda $opt2 0.5]")
    tcl.eval("set pl [torch::lr_scheduler_plateau $opt2]")
    tcl.eval("set step [torch::lr_scheduler_step $opt2 2 0.5]")
    tcl.eval("torch::save_checkpoint $m $opt2 a.ckpt -scheduler [list $lam $pl $step] -scaler $sc")
    tampered_checkpoint("a.ckpt", "bad.ckpt", change)
    step_before = tcl.get(tcl.eval("set step")).state_dict()
    scale_before = tcl.eval("torch::grad_scaler_get_scale $sc")
    got_message, code = _err(
        tcl, "torch::load_checkpoint $m $opt2 bad.ckpt -scheduler [list $lam $pl $step] -scaler $sc"
    )
    assert got_message.startswith('invalid -file "bad.ckpt": ' + message), got_message
    assert code == ["TORCH", "VALUE", "-file"]
    assert tcl.get(tcl.eval("set step")).state_dict() == step_before
    assert tcl.eval("torch::grad_scaler_get_scale $sc") == scale_before
    # the good file still loads, and the schedulers step afterwards
    tcl.eval("torch::load_checkpoint $m $opt2 a.ckpt -scheduler [list $lam $pl $step] -scaler $sc")
    assert math.isfinite(float(tcl.eval("torch::lr_scheduler_step_update $step")))


def test_optimizer_step_count_beyond_2_53_is_refused(tcl):
    tcl.eval("set m [torch::linear 2 1]; set opt [torch::optimizer_adam $m 0.1]")
    tcl.eval(f"{BACKWARD}; torch::optimizer_step $opt")
    tcl.eval("torch::save_checkpoint $m $opt a.ckpt")
    tampered_checkpoint(
        "a.ckpt", "bad.ckpt", lambda d: d["optimizer"]["state"][0].__setitem__("step", torch.tensor(1e30))
    )
    message, code = _err(tcl, "torch::load_checkpoint $m $opt bad.ckpt")
    assert message.startswith('invalid -file "bad.ckpt": does not fit optimizer')
    assert message.endswith(", must be below 2**53") and "the step count of parameter 0 is 1.0" in message
    assert code == ["TORCH", "VALUE", "-file"]


def test_scheduler_state_check_from_python():
    _, opt, sched = _trained_adam_with_steplr()
    state = sched.state_dict()
    with pytest.raises(ValueError, match="gamma nan"):
        train_state.prepare_scheduler(sched, {**state, "gamma": float("nan")})
    twin = train_state.prepare_scheduler(sched, {**state, "gamma": 0.25})
    assert sched.gamma == 0.5 and twin.gamma == 0.25 and twin.optimizer is opt
    with pytest.raises(ValueError, match="scale 1e\\+308"):
        train_state.check_scaler_state({**torch.amp.GradScaler("cpu").state_dict(), "scale": 1e308})


# -- issue 20.3: a learning rate of 0 resumes ------------------------------------------------------


@pytest.mark.parametrize(
    "make,steps",
    [
        ("torch::lr_scheduler_polynomial $opt 2", 3),  # past its end: lr 0
        ("torch::lr_scheduler_linear_with_warmup $opt 2 6", 0),  # warm-up at step 0: lr 0
        ("torch::lr_scheduler_cosine $opt 2", 2),  # at T_max: lr 0 (eta_min 0)
    ],
    ids=["polynomial-end", "warmup-start", "cosine-tmax"],
)
def test_zero_learning_rate_resumes(tcl, make, steps):
    tcl.eval("set m [torch::linear 2 1]; set opt [torch::optimizer_adam $m 0.1]")
    tcl.eval(f"set s [{make}]")
    for _ in range(steps):
        tcl.eval(f"{BACKWARD}; torch::optimizer_step $opt")
        tcl.eval("torch::lr_scheduler_step_update $s")
    assert float(tcl.eval("torch::get_lr $opt")) == 0.0
    tcl.eval("torch::save_checkpoint $m $opt a.ckpt -scheduler $s")
    tcl.eval(f"set opt2 [torch::optimizer_adam $m 0.1]; set s2 [{make.replace('$opt', '$opt2')}]")
    assert tcl.eval("torch::load_checkpoint $m $opt2 a.ckpt -scheduler $s2") == "epoch 0 loss 0.0"
    assert float(tcl.eval("torch::get_lr $opt2")) == 0.0
    nxt = float(tcl.eval("torch::lr_scheduler_step_update $s"))
    assert float(tcl.eval("torch::lr_scheduler_step_update $s2")) == pytest.approx(nxt, abs=1e-12)


# -- issue 20.4: a read-only target is refused; mode kept ------------------------------------------


def test_read_only_target_is_refused_and_mode_is_kept(tcl, tmp_path):
    tcl.eval("set m [torch::linear 2 1]")
    ro = tmp_path / "ro.pt"
    ro.write_bytes(b"old")
    ro.chmod(0o444)
    assert _err(tcl, "torch::save_state_dict $m ro.pt") == (
        'couldn\'t write "ro.pt": permission denied',
        ["POSIX", "EACCES", "permission denied"],
    )
    assert ro.read_bytes() == b"old" and stat.S_IMODE(ro.stat().st_mode) == 0o444
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro.pt"]
    kept = tmp_path / "kept.pt"
    kept.write_bytes(b"old")
    kept.chmod(0o640)
    tcl.eval("torch::save_state_dict $m kept.pt")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and kept.stat().st_uid == os.geteuid()
    assert set(torch.load(kept, weights_only=True)) == {"weight", "bias"}


# -- issue 20.5: Ctrl-C around the rename ---------------------------------------------------------


def test_interrupt_before_the_rename_keeps_the_old_file(tcl, tmp_path, monkeypatch):
    tcl.eval("set m [torch::linear 2 1]; torch::save_state_dict $m m.pt")
    before = (tmp_path / "m.pt").read_bytes()
    real = os.replace

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization.os, "replace", interrupted)
    with torch.no_grad():
        tcl.get(tcl.eval("set m")).weight.zero_()
    with pytest.raises(BaseException) as info:
        tcl.eval("torch::save_state_dict $m m.pt")
    assert isinstance(info.value, KeyboardInterrupt) or "interrupt" in str(info.value).lower()
    monkeypatch.setattr(serialization.os, "replace", real)
    assert (tmp_path / "m.pt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


def test_interrupt_in_the_writer_is_an_interrupt_not_torch_text(tcl, tmp_path, monkeypatch):
    tcl.eval("set m [torch::linear 2 1]; torch::save_state_dict $m m.pt")
    before = (tmp_path / "m.pt").read_bytes()
    real_write = os.write
    calls = {"n": 0}

    def write(fd, data):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_write(fd, data)

    monkeypatch.setattr(serialization.os, "write", write)
    with pytest.raises(BaseException) as info:
        tcl.eval("torch::save_state_dict $m m.pt")
    monkeypatch.undo()
    assert "enforce fail" not in str(info.value) and "inline_container" not in str(info.value)
    assert isinstance(info.value, KeyboardInterrupt) or "interrupt" in str(info.value).lower()
    assert (tmp_path / "m.pt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


def test_interrupt_after_the_rename_reports_success(tcl, tmp_path, monkeypatch):
    tcl.eval("set m [torch::linear 2 1]; torch::save_state_dict $m m.pt")
    real = os.replace

    def replaced_then_interrupted(*args):
        real(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization.os, "replace", replaced_then_interrupted)
    with torch.no_grad():
        tcl.get(tcl.eval("set m")).weight.zero_()
    assert tcl.eval("torch::save_state_dict $m m.pt") == "m.pt"
    monkeypatch.undo()
    assert torch.equal(torch.load(tmp_path / "m.pt", weights_only=True)["weight"], torch.zeros(1, 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


def test_torch_writer_failure_is_translated(tmp_path, monkeypatch):
    def broken(obj, stream):
        raise RuntimeError(
            "[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file"
        )

    monkeypatch.setattr(serialization, "_serialize", broken)
    with pytest.raises(SerializationError) as info:
        serialization.atomic_save({"a": torch.ones(1)}, str(tmp_path / "x.pt"))
    assert info.value.problem == "could not be written: PyTorch's file writer failed"
    assert list(tmp_path.iterdir()) == []


# -- issue 20.6: odd files, longdouble, zip bombs -------------------------------------------------


@pytest.mark.parametrize(
    "content,problem",
    [
        (
            {
                "format": "tcltorch.checkpoint",
                "version": 1,
                "epoch": 0,
                "loss": 0.0,
                "model": {},
                "optimizer": {"param_groups": [5], "state": {}},
            },
            "does not hold an optimizer state dict",
        ),
        (
            {
                "format": "tcltorch.checkpoint",
                "version": 1,
                "epoch": 0,
                "loss": 0.0,
                "model": 5,
                "optimizer": {"param_groups": [], "state": {}},
            },
            "does not hold a model state dict",
        ),
        (
            {
                "format": "tcltorch.checkpoint",
                "version": 1,
                "epoch": 0,
                "loss": 0.0,
                "model": {},
                "optimizer": {"param_groups": [], "state": {}},
                "schedulers": 5,
            },
            "its scheduler states are not a list",
        ),
        ({"format": "tcltorch.checkpoint", "version": "1"}, 'has checkpoint format version "1"'),
        ([1, 2, 3], "is not a tcltorch checkpoint or state dict"),
    ],
    ids=["groups-5", "model-5", "schedulers-5", "version-str", "list"],
)
def test_checkpoint_info_on_odd_files(tcl, tmp_path, content, problem):
    torch.save(content, tmp_path / "odd.ckpt")
    message, code = _err(tcl, "torch::get_checkpoint_info odd.ckpt")
    assert message.startswith(f'invalid -file "odd.ckpt": {problem}') and code == ["TORCH", "VALUE", "-file"]
    assert "Traceback" not in message


def test_longdouble_npy_is_a_clear_error(tcl, tmp_path):
    np.save(tmp_path / "ld.npy", np.ones(3, dtype=np.longdouble))
    message, code = _err(tcl, "torch::tensor_load ld.npy")
    assert (
        message == 'invalid -file "ld.npy": holds numbers of NumPy type float128, which torch has no type for'
    )
    assert code == ["TORCH", "VALUE", "-file"]


def test_zip_bomb_is_refused_before_inflating(tcl, tmp_path):
    bomb = tmp_path / "bomb.pt"
    data = zipfile.ZipInfo("archive/data/0")
    data.compress_type = zipfile.ZIP_DEFLATED
    size = 256 << 20
    chunk = bytes(1 << 20)
    with (
        zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z,
        z.open(data, "w", force_zip64=True) as stream,
    ):
        for _ in range(size >> 20):
            stream.write(chunk)
    assert bomb.stat().st_size < 1 << 20
    message, code = _err(tcl, "torch::get_checkpoint_info bomb.pt")
    assert message == (
        f'invalid -file "bomb.pt": refused: its records declare {size} bytes uncompressed in a file of '
        f"{bomb.stat().st_size} bytes (more than 64 times its size: a zip bomb)"
    )
    assert code == ["TORCH", "VALUE", "-file"]


# -- issue 20.7: integer CSV columns --------------------------------------------------------------


def test_load_csv_integers_are_exact(tcl, tmp_path):
    (tmp_path / "i.csv").write_text("9223372036854775807,9007199254740993\n-9223372036854775808, 7\n")
    t = tcl.get(tcl.eval("torch::load_csv i.csv -dtype int64"))
    assert t.dtype == torch.int64
    assert t.tolist() == [[9223372036854775807, 9007199254740993], [-9223372036854775808, 7]]
    (tmp_path / "u.csv").write_text("0,255\n")
    assert tcl.get(tcl.eval("torch::load_csv u.csv -dtype uint8")).tolist() == [[0, 255]]


@pytest.mark.parametrize(
    "text,dtype,problem",
    [
        ("1,2\n3,nan\n", "int64", 'line 2 column 2: expected an integer but got "nan"'),
        ("1,2\n3,300\n", "uint8", "line 2 column 2: 300 does not fit uint8 (0 to 255)"),
        ("-1\n", "uint8", "line 1 column 1: -1 does not fit uint8 (0 to 255)"),
        ("9223372036854775808\n", "int64", "line 1 column 1: 9223372036854775808 does not fit int64"),
        ("1.5\n", "int32", 'line 1 column 1: expected an integer but got "1.5"'),
    ],
    ids=["nan", "uint8-300", "uint8-neg", "int64-over", "fraction"],
)
def test_load_csv_integer_errors_name_row_and_column(tcl, tmp_path, text, dtype, problem):
    (tmp_path / "bad.csv").write_text(text)
    message, code = _err(tcl, f"torch::load_csv bad.csv -dtype {dtype}")
    assert message.startswith(f'invalid -file "bad.csv": {problem}') and code == ["TORCH", "VALUE", "-file"]
