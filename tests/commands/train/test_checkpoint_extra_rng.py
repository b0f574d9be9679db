"""tcltorch.checkpoint: extra data (plain data, validated) and RNG states, saved and restored."""

from __future__ import annotations

import math

import pytest
import torch

from tcltorch import checkpoint as ckpt


def _linear_sgd():
    model = torch.nn.Linear(2, 1)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def test_extra_round_trips_and_shows_in_info(tmp_path):
    model, opt = _linear_sgd()
    extra = {
        "best": 0.25,
        "patience": 3,
        "step": 1200,
        "tag": "run-a",
        "ok": True,
        "hist": [1, 2.5, None],
        "d": {"k": "v"},
    }
    path = str(tmp_path / "a.ckpt")
    ckpt.save(path, model, opt, epoch=2, loss=0.5, extra=extra)
    assert ckpt.load(path, model, opt) == {"epoch": 2, "loss": 0.5, "extra": extra}
    info = ckpt.info(path)
    assert info["extra"] == extra and "rng" not in info
    # without extra: the result is as before
    ckpt.save(path, model, opt)
    assert ckpt.load(path, model, opt) == {"epoch": 0, "loss": 0.0}


@pytest.mark.parametrize(
    "extra, message",
    [
        ([1, 2], "its extra data is list: must be a dict"),
        ({"x": math.nan}, "its extra data has extra.x = nan: must be a finite number"),
        ({"x": torch.ones(1)}, "its extra data has extra.x of type Tensor: only strings, numbers"),
        ({"x": {1: 2}}, "its extra data has a key 1 in extra.x: keys must be strings"),
        ({"x": 2**70}, "an integer out of the 64-bit range"),
    ],
)
def test_extra_must_be_plain_data(tmp_path, extra, message):
    model, opt = _linear_sgd()
    path = tmp_path / "b.ckpt"
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        ckpt.save(str(path), model, opt, extra=extra)
    assert not path.exists()


def test_extra_in_a_file_is_checked_on_read(tmp_path):
    model, opt = _linear_sgd()
    data = ckpt.state(model, opt)
    data["extra"] = {"x": [float("inf")]}
    path = tmp_path / "c.ckpt"
    torch.save(data, path)
    with pytest.raises(ckpt.CheckpointError, match=r"its extra data has extra.x\[0\] = inf"):
        ckpt.load(str(path), model, opt)


def test_rng_states_make_a_resumed_run_draw_the_same(tmp_path):
    model, opt = _linear_sgd()
    path = str(tmp_path / "r.ckpt")
    torch.manual_seed(5)
    torch.rand(3)
    ckpt.save(path, model, opt, rng=True)
    expected = torch.randperm(10), torch.rand(4)
    torch.manual_seed(99)  # another run, elsewhere
    assert ckpt.info(path)["rng"] is True
    ckpt.load(path, model, opt)
    assert torch.equal(torch.randperm(10), expected[0]) and torch.equal(torch.rand(4), expected[1])


def test_rng_state_is_checked_and_a_refused_load_leaves_the_generator(tmp_path):
    model, opt = _linear_sgd()
    data = ckpt.state(model, opt, rng=True)
    data["rng"]["torch"] = torch.zeros(3, dtype=torch.uint8)
    path = tmp_path / "bad.ckpt"
    torch.save(data, path)
    torch.manual_seed(1)
    before = torch.get_rng_state()
    with pytest.raises(ckpt.CheckpointError, match="its RNG state is not a torch generator state"):
        ckpt.load(str(path), model, opt)
    assert torch.equal(torch.get_rng_state(), before)
    # a load refused for another reason does not touch the generator either
    good = ckpt.state(torch.nn.Linear(3, 1), opt, rng=True)
    torch.save(good, path)
    before = torch.get_rng_state()  # (making the Linear drew numbers)
    with pytest.raises(ckpt.CheckpointError):
        ckpt.load(str(path), model, opt)
    assert torch.equal(torch.get_rng_state(), before)
