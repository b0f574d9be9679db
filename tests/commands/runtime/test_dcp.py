"""Distributed checkpoints (tcltorch.dcp) in one process: atomic saves, refusals, the Tcl
commands on a directory. The multi-rank resharding runs are in tests/commands/runtime/test_distributed.py."""

from __future__ import annotations

import errno
import os
import pickle

import pytest
import torch
import torch.distributed.checkpoint as torch_dcp

from tcltorch import dcp
from tcltorch.checkpoint import CheckpointError
from tcltorch.optim import Adafactor
from tcltorch.serialization import FileAccessError, UnsafeFileError


def _trained(seed: int = 0) -> tuple[torch.nn.Module, Adafactor]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    opt = Adafactor(model.parameters(), beta1=0.9)
    x, y = torch.randn(8, 4), torch.randn(8, 2)
    for _ in range(2):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    return model, opt


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_round_trip_in_one_process_restores_model_and_optimizer_state(tmp_path):
    model, opt = _trained()
    path = str(tmp_path / "run.dcp")
    dcp.save(path, model, opt, epoch=2, loss=0.5)
    other, other_opt = _trained(seed=1)
    assert dcp.load(path, other, other_opt) == {"epoch": 2, "loss": 0.5}
    for k, v in _weights(model).items():
        assert torch.equal(other.state_dict()[k], v)
    for p, q in zip(model.parameters(), other.parameters()):
        a, b = opt.state[p], other_opt.state[q]
        assert a["step"] == b["step"] == 2 and set(a) == set(b)
        for key in ("row", "col", "v", "exp_avg"):
            if key in a:
                assert torch.equal(a[key], b[key])
    info = dcp.info(path)
    assert info["kind"] == "distributed" and info["steps"] == 2 and info["world_size"] == 1
    assert info["tensors"] == 4 and info["elements"] == 4 * 3 + 3 + 3 * 2 + 2


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model, opt = _trained()
    path = str(tmp_path / "run.dcp")
    dcp.save(path, model, opt, epoch=1)
    before = _weights(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch_dcp.FileSystemWriter, "write_data", full)
    with pytest.raises(Exception, match="No space left|no space left") as failure:
        dcp.save(path, model, opt, epoch=2)
    print("failed save:", type(failure.value).__name__, failure.value)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["run.dcp"]  # no partial directory left behind
    assert dcp.info(path)["epoch"] == 1
    fresh, fresh_opt = _trained(seed=3)
    dcp.load(path, fresh, fresh_opt)
    for k, v in before.items():
        assert torch.equal(fresh.state_dict()[k], v)


def test_a_crashed_saves_leftovers_are_replaced_and_the_new_save_swapped_in(tmp_path):
    model, opt = _trained()
    path = tmp_path / "run.dcp"
    dcp.save(str(path), model, opt, epoch=1)
    junk = tmp_path / ".run.dcp.dcp-partial"  # what a rank killed mid-save leaves
    junk.mkdir()
    (junk / "__0_0.distcp").write_bytes(b"half")
    dcp.save(str(path), model, opt, epoch=7)
    assert sorted(os.listdir(tmp_path)) == ["run.dcp"]
    assert dcp.info(str(path))["epoch"] == 7


def test_load_refuses_what_does_not_fit_and_changes_nothing(tmp_path):
    model, opt = _trained()
    path = str(tmp_path / "run.dcp")
    dcp.save(path, model, opt)
    wide = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    before = _weights(wide)
    with pytest.raises(
        CheckpointError, match=r"0.weight has shape \{3 4\} in the file, \{5 4\} in the model"
    ):
        dcp.load(path, wide, Adafactor(wide.parameters()))
    assert all(torch.equal(wide.state_dict()[k], v) for k, v in before.items())
    same, _ = _trained(seed=4)
    adam = torch.optim.Adam(same.parameters())
    with pytest.raises(CheckpointError, match="holds adafactor optimizer state; the optimizer is an adam"):
        dcp.load(path, same, adam)
    plain = Adafactor(same.parameters())
    dcp.load(path, same, plain)  # the options come from the file, as torch's load_state_dict does
    assert plain.param_groups[0]["beta1"] == 0.9 and "exp_avg" in plain.state[next(same.parameters())]


def test_a_foreign_metadata_pickle_is_refused_unread(tmp_path):
    model, opt = _trained()
    path = tmp_path / "run.dcp"
    dcp.save(str(path), model, opt)
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (path / ".metadata").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(UnsafeFileError, match="refused: its .metadata holds Python objects"):
        dcp.load(str(path), model, opt)
    assert not marker.exists()


def test_a_missing_directory_is_an_access_error(tmp_path):
    model, opt = _trained()
    with pytest.raises((CheckpointError, FileAccessError)):
        dcp.load(str(tmp_path / "nowhere"), model, opt)


def test_tcl_commands_save_info_and_load_a_distributed_checkpoint(interp, tmp_path):
    path = str(tmp_path / "run.dcp")
    interp.eval(
        f"""
        torch::manual_seed 0
        set m [torch::linear 4 2]
        set o [torch::optimizer_adafactor -parameters $m]
        torch::optimizer_zero_grad $o
        torch::tensor_backward [torch::tensor_sum [torch::layer_forward $m [torch::ones {{3 4}}]]]
        torch::optimizer_step $o
        torch::save_checkpoint $m $o {{{path}}} 4 0.25 -format distributed
        """
    )
    info = interp.eval(f"torch::get_checkpoint_info {{{path}}}").split()
    fields = dict(zip(info[::2], info[1::2]))
    assert fields["kind"] == "distributed" and fields["epoch"] == "4" and fields["elements"] == "10"
    assert fields["world_size"] == "1" and fields["steps"] == "1" and fields["optimizer"] == "Adafactor"
    saved = interp.eval("torch::tensor_to_list [lindex [torch::layer_parameters $m] 0]")
    interp.eval(
        """
        torch::manual_seed 9
        set m2 [torch::linear 4 2]
        set o2 [torch::optimizer_adafactor -parameters $m2]
        """
    )
    assert interp.eval(f"torch::load_checkpoint $m2 $o2 {{{path}}}") == "epoch 4 loss 0.25"
    assert interp.eval("torch::tensor_to_list [lindex [torch::layer_parameters $m2] 0]") == saved
    with pytest.raises(Exception) as failure:
        interp.eval(f"torch::load_checkpoint [torch::linear 4 3] $o2 {{{path}}}")
    assert failure.value.errorcode == ["TORCH", "VALUE", "-file"]
    assert f'invalid -file "{path}": does not fit' in str(failure.value)
    with pytest.raises(Exception) as failure:
        interp.eval(f"torch::save_checkpoint $m $o {{{path}}} -format zip")
    assert "-format" in str(failure.value)
