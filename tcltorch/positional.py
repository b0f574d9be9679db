"""Sinusoidal positional encoding as a torch.nn module (engine code: no Tcl here).

``PositionalEncoding(d_model, max_len)`` holds the table of "Attention Is All You Need"
(Vaswani et al., 2017, section 3.5) as a buffer ``pe`` of shape ``[max_len, d_model]``::

    PE[pos, 2i]   = sin(pos / 10000^(2i / d_model))
    PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model))

and its forward adds the first ``seq_len`` rows to the input, then applies dropout.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_table(
    max_len: int, d_model: int, device: torch.device | None = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """The ``[max_len, d_model]`` table of sines (even columns) and cosines (odd columns)."""
    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model))
    table = torch.zeros(max_len, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * div_term)
    table[:, 1::2] = torch.cos(position * div_term[: d_model // 2])
    return table.to(device=device, dtype=dtype or torch.get_default_dtype())


class PositionalEncoding(nn.Module):
    """``dropout(x + PE[:seq_len])`` for inputs ``[seq, batch, d_model]`` (or ``[batch, seq,
    d_model]`` with ``batch_first``, or unbatched ``[seq, d_model]``)."""

    def __init__(
        self,
        d_model: int,
        max_len: int = 5000,
        dropout: float = 0.0,
        batch_first: bool = False,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.max_len = max_len
        self.batch_first = batch_first
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_table(max_len, d_model, device, dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (2, 3) or x.size(-1) != self.d_model:
            raise ValueError(
                f"PositionalEncoding expects input [seq, d_model] or 3-d with last dimension {self.d_model},"
                f" got shape {list(x.shape)}"
            )
        seq_dim = 1 if (self.batch_first and x.dim() == 3) else 0
        seq_len = x.size(seq_dim)
        if seq_len > self.max_len:
            raise ValueError(f"sequence length {seq_len} exceeds max_len {self.max_len}")
        pe = self.pe[:seq_len]
        if x.dim() == 3:
            pe = pe.unsqueeze(0) if seq_dim == 1 else pe.unsqueeze(1)
        return self.dropout(x + pe)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"
