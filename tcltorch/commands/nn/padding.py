"""Padding layers: reflection, replication, circular and zero padding in 1 to 3 dimensions.

``torch::reflection_pad2d {1 1 2 0}`` builds ``nn.ReflectionPad2d``; ``torch::reflection_pad2d
$x {1 1 2 0}`` pads a tensor (the other implementation's form), exactly as the module does."""

from __future__ import annotations

from torch import nn

from tcltorch.commands.nn._dual import int_list, layer
from tcltorch.commands.spec import Opt

FAMILY = "nn/padding"

_KINDS = [
    ("reflection", "Reflection", "the input reflected at its border (the border element not repeated)"),
    ("replication", "Replication", "the border element repeated"),
    ("circular", "Circular", "the input wrapped around (the other end's elements)"),
    ("zero", "Zero", "zeros"),
]


_ORDER = {1: "{left right}", 2: "{left right top bottom}", 3: "{left right top bottom front back}"}


_INPUT = {1: "(N, C, W) or (C, W)", 2: "(N, C, H, W) or (C, H, W)", 3: "(N, C, D, H, W) or (C, D, H, W)"}


for kind, cls_prefix, fill in _KINDS:
    for n in (1, 2, 3):
        name = f"{kind}_pad{n}d"
        cls = getattr(nn, f"{cls_prefix}Pad{n}d")
        layer(
            name,
            cls,
            [
                Opt(
                    "padding",
                    int_list([2 * n]),
                    help=f"one size for every side, or {_ORDER[n]}",
                    aliases=("pad",),
                )
            ],
            f"Pads the last {n} dimension{'s' if n > 1 else ''} with {fill} (nn.{cls.__name__})",
            f"Pads an input {_INPUT[n]} with {fill}. `padding` is one size for every side or a list "
            f"{_ORDER[n]}, the last dimension first, as torch. With a tensor handle first it pads that tensor and "
            "returns the result; otherwise it builds the module for `torch::sequential` and `torch::layer_forward`.",
            "set x [torch::tensor_create {{1.0 2.0 3.0}}]\n"
            + (
                f"puts [torch::tensor_to_list [torch::{name} $x {{2 1}}]]\n"
                if n == 1
                else f"puts [torch::tensor_shape [torch::{name} [torch::ones {{1 {' '.join(['2'] * n)}}}] 1]]\n"
            )
            + f"set pad [torch::{name} 1]\n"
            + f"puts [torch::tensor_shape [torch::layer_forward $pad [torch::ones {{1 {' '.join(['3'] * n)}}}]]]",
            see=tuple(f"{k}_pad{n}d" for k, _, _ in _KINDS if k != kind),
        )
