"""LAMB: layer-wise adaptive moments (You et al., "Large Batch Optimization for Deep
Learning: Training BERT in 76 minutes", ICLR 2020, Algorithm 2).

For each parameter tensor (a "layer") x with gradient g, at step t:

    m = beta1*m + (1 - beta1)*g
    v = beta2*v + (1 - beta2)*g^2
    m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)    (bias_correction; v3 of the paper: none)
    r = m_hat / (sqrt(v_hat) + eps)
    u = r + weight_decay*x
    trust = ||x|| / ||u||   (1 when either norm is 0; the paper's phi is the identity)
    x = x - lr * trust * u

``weight_decay`` is inside u, so the trust ratio scales it too (the paper's form, not AdamW's).
All on the device: the trust ratio is a tensor, never read back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from tcltorch.optim._checks import check_adam_like


class Lamb(Optimizer):
    """LAMB (see the module docstring).

    Args:
        params: tensors or parameter groups.
        lr: learning rate (> 0).
        betas: decay of the first and second moment averages, each in [0, 1).
        eps: added to sqrt(v_hat) (>= 0).
        weight_decay: lambda in u = r + lambda*x (>= 0).
        bias_correction: divide the moments by 1 - beta^t (the paper's Algorithm 2).
        maximize: ascend instead of descend.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.01,
        bias_correction: bool = True,
        maximize: bool = False,
    ) -> None:
        check_adam_like(lr, betas, eps, weight_decay)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "bias_correction": bias_correction,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("LAMB does not support sparse gradients")
                g = -p.grad if group["maximize"] else p.grad
                st = self.state[p]
                if not st:
                    st["step"] = torch.tensor(0.0)
                    st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st["step"] += 1
                t = float(st["step"])  # a CPU counter: no device sync
                m, v = st["exp_avg"], st["exp_avg_sq"]
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                if group["bias_correction"]:
                    m_hat = m / (1 - beta1**t)
                    denom = (v / (1 - beta2**t)).sqrt_().add_(group["eps"])
                else:
                    m_hat = m
                    denom = v.sqrt().add_(group["eps"])
                update = m_hat / denom
                if group["weight_decay"] != 0:
                    update.add_(p, alpha=group["weight_decay"])
                w_norm = torch.linalg.vector_norm(p)
                u_norm = torch.linalg.vector_norm(update)
                trust = torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, torch.ones_like(w_norm))
                p.add_(update * trust, alpha=-group["lr"])
        return loss
