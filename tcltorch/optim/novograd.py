"""NovoGrad: stochastic gradient methods with layer-wise adaptive moments (Ginsburg et al.,
"Training Deep Networks with Stochastic Gradient Normalized by Layerwise Adaptive Second
Moments", 2019, Algorithm 1).

For each parameter tensor (a "layer") x with gradient g, at step t (v is one number per layer):

    t = 1:  v = ||g||^2,                    m = g/(sqrt(v) + eps) + weight_decay*x
    t > 1:  v = beta2*v + (1 - beta2)*||g||^2
            m = beta1*m + c*(g/(sqrt(v) + eps) + weight_decay*x)
    x = x - lr*m

with c = 1 (the paper) or c = 1 - beta1 with ``grad_averaging``.  The weight decay is the
paper's: added to the normalized gradient, so the momentum carries it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from tcltorch.optim._checks import check_adam_like


class NovoGrad(Optimizer):
    """NovoGrad (see the module docstring).

    Args:
        params: tensors or parameter groups.
        lr: learning rate (> 0).
        betas: (beta1, beta2), each in [0, 1); the paper uses (0.95, 0.98).
        eps: added to sqrt(v) (>= 0).
        weight_decay: d in g/(sqrt(v)+eps) + d*x (>= 0).
        grad_averaging: scale the new term by 1 - beta1.
        maximize: ascend instead of descend.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.95, 0.98),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        grad_averaging: bool = False,
        maximize: bool = False,
    ) -> None:
        check_adam_like(lr, betas, eps, weight_decay)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "grad_averaging": grad_averaging,
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
                    raise RuntimeError("NovoGrad does not support sparse gradients")
                g = -p.grad if group["maximize"] else p.grad
                st = self.state[p]
                first = not st
                square = g.square().sum()
                if first:
                    st["step"] = torch.tensor(0.0)
                    st["grad_norm_sq"] = square.clone()
                else:
                    st["grad_norm_sq"].lerp_(square, 1 - beta2)
                st["step"] += 1
                update = g / st["grad_norm_sq"].sqrt().add(group["eps"])
                if group["weight_decay"] != 0:
                    update.add_(p, alpha=group["weight_decay"])
                if first:
                    st["exp_avg"] = update
                else:
                    if group["grad_averaging"]:
                        update.mul_(1 - beta1)
                    st["exp_avg"].mul_(beta1).add_(update)
                p.add_(st["exp_avg"], alpha=-group["lr"])
        return loss
