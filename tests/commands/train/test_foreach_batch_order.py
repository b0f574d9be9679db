"""foreach_batch without shuffling makes no row order (issue 26): the batches are plain slices,
every variable is set per batch, and the batch handles and the body's are freed after each batch."""

from __future__ import annotations

import torch

from tcltorch.commands.train import data


def test_sequential_batches_make_no_row_order(interp, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("batch_order called without -shuffle")

    monkeypatch.setattr(data, "batch_order", refuse)
    x = torch.arange(10.0)
    y = torch.arange(10) * 2
    interp.call("set", "X", interp.put(x))
    interp.call("set", "Y", interp.put(y))
    before = set(interp.handles())
    got = interp.eval(
        """
        set seen {}
        torch::foreach_batch {xb yb} [list $X $Y] -batchSize 4 {
            torch::tensor_add $xb 1  ;# a handle the body makes
            lappend seen [list [torch::tensor_to_list $xb] [torch::tensor_to_list $yb]]
        }
        set seen
        """
    )
    assert got == "{{0.0 1.0 2.0 3.0} {0 2 4 6}} {{4.0 5.0 6.0 7.0} {8 10 12 14}} {{8.0 9.0} {16 18}}"
    assert set(interp.handles()) == before  # batches and the body's handles are gone
    dropped = interp.eval(
        "set n 0; torch::foreach_batch {xb yb} [list $X $Y] -batchSize 4 -dropLast 1 {incr n}; set n"
    )
    assert dropped == "2"


def test_shuffled_batches_still_use_the_order(interp):
    x = torch.arange(6.0)
    interp.call("set", "X", interp.put(x))
    rows = interp.eval(
        "set r {}; torch::foreach_batch {xb} [list $X] -batchSize 4 -shuffle 1 -seed 3 "
        "{lappend r {*}[torch::tensor_to_list $xb]}; set r"
    )
    values = [float(v) for v in rows.split()]
    assert sorted(values) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    generator = torch.Generator()
    generator.manual_seed(3)
    assert values == [float(i) for i in torch.randperm(6, generator=generator)]
