"""The model, data and Adafactor option sets shared by the FSDP2 test's ranks and its
one-process reference (tests/commands/runtime/test_distributed.py, tests/distributed/fsdp_adafactor.py)."""

from __future__ import annotations

import torch

CONFIGS = {
    "relative-step-f32": (torch.float32, {"lr": 0.1}),
    "momentum-decay-clip-f32": (torch.float32, {"beta1": 0.9, "weight_decay": 0.05, "clip_threshold": 0.5}),
    "fixed-lr-momentum-f64": (torch.float64, {"relative_step": False, "lr": 0.02, "beta1": 0.8}),
    "defaults-f64": (torch.float64, {"weight_decay": 0.01}),
}


class Net(torch.nn.Module):
    """Two linear layers (rows 6 and 5: an even and an uneven split over 2 ranks) and a rank-3
    weight (its first dim split: a batch of factored matrices)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin1 = torch.nn.Linear(8, 6)
        self.lin2 = torch.nn.Linear(6, 5)
        self.mix = torch.nn.Parameter(torch.randn(2, 5, 3) * 0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lin2(torch.tanh(self.lin1(x)))
        return torch.einsum("bi,kij->bkj", h, self.mix).reshape(x.shape[0], -1)


def make_model(dtype: torch.dtype) -> Net:
    torch.manual_seed(0)
    return Net().to(dtype)


def batch(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(16, 8, generator=g).to(dtype), torch.randn(16, 6, generator=g).to(dtype)
