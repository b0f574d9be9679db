"""tcltorch/torch_messages.py: the table of PyTorch messages in Tcl terms, called directly
(the CUDA wording of a device mismatch needs no GPU here; tests/tcl/torch_errors.test runs
every entry through real commands)."""

from __future__ import annotations

import torch

from tcltorch import torch_messages


class Names:
    def __init__(self, **named):
        self.by_id = {id(obj): name for name, obj in named.items()}

    def name_of(self, obj):
        return self.by_id.get(id(obj))


def test_every_rule_has_a_name_and_a_pattern():
    names = [rule.name for rule in torch_messages.RULES]
    assert len(names) == len(set(names))
    assert {"matmul", "broadcast", "dtype", "reshape", "view", "class target", "device"} <= set(names)


def test_device_mismatch_in_cudas_words():
    a, b = torch.zeros(2), torch.zeros(2)
    text = "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!"
    said = torch_messages.translate(
        RuntimeError(text), text, "tensor_add", {"input": a, "other": b}, Names(t1=a, t2=b)
    )
    # both cpu here: the message names the devices PyTorch saw instead of the operands
    assert said == (
        "the operands are on different devices (one on cpu, one on cuda:0): move them to one device "
        "with torch::tensor_to ... -device (a module: torch::layer_to ... -device)"
    )
    older = "Expected all tensors to be on the same device, but got mat2 is on cpu, different from other tensors on cuda:0"
    assert torch_messages.translate(RuntimeError(older), older, "x", {}, None) is None


def test_rules_without_handles_and_nonmatching_text():
    text = "mat1 and mat2 shapes cannot be multiplied (2x4 and 3x2)"
    assert torch_messages.translate(RuntimeError(text), text, "x", {}, None) == (
        "cannot multiply a 2x4 matrix by a 3x2 one: the last dimension of the first (4) must equal "
        "the first dimension of the second (3)"
    )
    text = "mat1 and mat2 must have the same dtype, but got Double and Float"
    assert torch_messages.translate(RuntimeError(text), text, "x", {}, None) == (
        "the operands are float64 and float32; they must have the same dtype: convert one with "
        "torch::tensor_to ... -dtype (a module with torch::layer_to ... -dtype)"
    )
    # the wrong exception class, or a text no rule knows: nothing to add
    assert torch_messages.translate(ValueError(text), text, "x", {}, None) is None
    assert torch_messages.translate(RuntimeError("boom"), "boom", "x", {}, None) is None
    # a rule that cannot cope leaves PyTorch's text alone rather than failing
    text = "Target 3 is out of bounds."
    assert torch_messages.translate(IndexError(text), text, "x", {}, None) is None
