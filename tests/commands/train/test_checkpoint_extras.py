"""Checkpoints carry grad scalers; get_checkpoint_info; save_state/load_state; DDP modules
save and load as the module they wrap."""

from __future__ import annotations

import pytest
import torch

import tcltorch


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Every test runs in its own scratch directory (the checkpoints are written there)."""
    monkeypatch.chdir(tmp_path)


def _tcl_model_with_scaler(tcl):
    tcl.eval("torch::manual_seed 0; set m [torch::linear 3 2]; set o [torch::optimizer_adam $m 0.01]")
    tcl.eval("set s [torch::grad_scaler_new -initScale 64 -growthInterval 1 -deviceType cpu]")
    tcl.eval(
        "torch::tensor_backward [torch::grad_scaler_scale $s [torch::tensor_sum [torch::layer_forward $m [torch::ones {4 3}]]]]"
    )
    tcl.eval("torch::grad_scaler_step $s $o; torch::grad_scaler_update $s")


def test_scaler_state_round_trips_through_a_checkpoint(tcl):
    _tcl_model_with_scaler(tcl)
    assert float(tcl.eval("torch::grad_scaler_get_scale $s")) == 128.0
    tcl.eval("torch::save_checkpoint $m $o run.ckpt 1 0.5 -scaler $s")
    tcl.eval("set s2 [torch::grad_scaler_new -deviceType cpu]")
    tcl.eval("torch::load_checkpoint $m $o run.ckpt -scaler $s2")
    assert float(tcl.eval("torch::grad_scaler_get_scale $s2")) == 128.0
    assert tcl.get(tcl.eval("set s2")).state_dict() == tcl.get(tcl.eval("set s")).state_dict()


def test_a_bad_scaler_state_is_refused_and_nothing_changes(tcl):
    _tcl_model_with_scaler(tcl)
    tcl.eval("torch::save_checkpoint $m $o run.ckpt -scaler $s")
    data = torch.load("run.ckpt", weights_only=True)
    data["scalers"][0]["scale"] = float("nan")
    torch.save(data, "bad.ckpt")
    before = {k: v.clone() for k, v in tcl.get(tcl.eval("set m")).state_dict().items()}
    tcl.eval("set s3 [torch::grad_scaler_new -initScale 2 -deviceType cpu]")
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval("torch::load_checkpoint $m $o bad.ckpt -scaler $s3")
    assert info.value.errorcode == ["TORCH", "VALUE", "-file"] and "grad scaler" in str(info.value)
    after = tcl.get(tcl.eval("set m")).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert float(tcl.eval("torch::grad_scaler_get_scale $s3")) == 2.0
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval("torch::load_checkpoint $m $o run.ckpt")  # no scaler given: fine
        tcl.eval("torch::load_checkpoint $m $o run.ckpt -scaler [list $s3 $s3]")
    assert "2 scalers were given" in str(info.value)


def test_get_checkpoint_info(tcl):
    _tcl_model_with_scaler(tcl)
    tcl.eval("torch::save_checkpoint $m $o run.ckpt 7 0.125 -scaler $s")
    info = dict(zip(*[iter(tcl.tk.splitlist(tcl.eval("torch::get_checkpoint_info run.ckpt")))] * 2))
    assert info["kind"] == "checkpoint" and info["epoch"] == "7" and float(info["loss"]) == 0.125
    assert info["optimizer"] == "Adam" and float(info["learning_rate"]) == 0.01
    assert info["steps"] == "1" and info["tensors"] == "2" and info["elements"] == "8"
    assert info["scalers"] == "1" and info["schedulers"] == "0"
    tcl.eval("torch::save_state $m weights.pt")
    info = dict(zip(*[iter(tcl.tk.splitlist(tcl.eval("torch::getCheckpointInfo weights.pt")))] * 2))
    assert info == {"kind": "state_dict", "tensors": "2", "elements": "8"}
    with open("junk.ckpt", "wb") as f:
        f.write(b"not a zip")
    with pytest.raises(tcltorch.TclError):
        tcl.eval("torch::get_checkpoint_info junk.ckpt")


def test_save_state_and_load_state_are_the_state_dict_commands(tcl):
    tcl.eval("torch::manual_seed 1; set a [torch::linear 2 2]; set b [torch::linear 2 2]")
    tcl.eval("torch::saveState $a a.pt; torch::load_state -model $b -file a.pt")
    a, b = tcl.get(tcl.eval("set a")), tcl.get(tcl.eval("set b"))
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)


def test_a_ddp_module_saves_the_module_it_wraps(tcl, tmp_path):
    store = tmp_path / "pg.store"
    tcl.eval(f"torch::distributed_init -rank 0 -worldSize 1 -initMethod file://{store}")
    try:
        tcl.eval("torch::manual_seed 2; set m [torch::linear 3 2]; set net [torch::ddp $m]")
        tcl.eval("set o [torch::optimizer_sgd $net 0.1]")
        tcl.eval("torch::save_checkpoint $net $o ddp.ckpt; torch::save_state_dict $net ddp.pt")
    finally:
        tcl.eval("torch::distributed_destroy")
    keys = set(torch.load("ddp.ckpt", weights_only=True)["model"])
    assert keys == {"weight", "bias"}  # no "module." prefix: any world size can resume it
    assert set(torch.load("ddp.pt", weights_only=True)) == {"weight", "bias"}
    tcl.eval("set plain [torch::linear 3 2]; set po [torch::optimizer_sgd $plain 0.1]")
    tcl.eval("torch::load_checkpoint $plain $po ddp.ckpt")
    assert torch.equal(tcl.get(tcl.eval("set plain")).weight, tcl.get(tcl.eval("set m")).weight)
