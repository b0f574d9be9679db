"""``Select``: one element of a tuple output, as a module (pure PyTorch; no Tcl).

A recurrent layer returns ``(output, h_n)`` (an LSTM ``(output, (h_n, c_n))``), attention
``(output, weights)``: put ``Select(0)`` after such a layer in an ``nn.Sequential`` and the next
layer gets the output alone.  ``Select(1, 0)`` walks into nested tuples (an LSTM's ``h_n``)."""

from __future__ import annotations

from typing import Any

from torch import nn


class Select(nn.Module):
    """Returns ``x[i][j]...`` for the path ``(i, j, ...)`` of a tuple (or list) input."""

    def __init__(self, *path: int) -> None:
        super().__init__()
        if not path:
            raise ValueError("Select needs an index")
        self.path = tuple(int(i) for i in path)

    def forward(self, x: Any) -> Any:
        for depth, i in enumerate(self.path):
            if not isinstance(x, (tuple, list)):
                where = "its input" if depth == 0 else f"element {list(self.path[:depth])} of its input"
                raise TypeError(
                    f"Select{list(self.path)} takes a tuple (the output of a GRU, LSTM or attention "
                    f"layer), but {where} is a {type(x).__name__}"
                )
            if not -len(x) <= i < len(x):
                raise IndexError(
                    f"Select{list(self.path)}: index {i} is out of range for a tuple of {len(x)}"
                )
            x = x[i]
        return x

    def extra_repr(self) -> str:
        return ", ".join(map(str, self.path))
