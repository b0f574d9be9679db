"""Losses with no torch.nn class, written from their papers.

* focal loss: Lin, Goyal, Girshick, He, Dollar, "Focal Loss for Dense Object Detection"
  (ICCV 2017), FL(p_t) = -alpha (1 - p_t)^gamma log(p_t), here for C classes with softmax
  probabilities (the multi-class form of eq. 5) and a scalar alpha;
* Dice loss: 1 - (2 |X.Y| + s) / (|X| + |Y| + s) (Milletari, Navab, Ahmadi, "V-Net", 2016,
  eq. 1 with additive smoothing s);
* Tversky loss: 1 - (TP + s) / (TP + alpha FP + beta FN + s) (Salehi, Erdogmus, Gholipour,
  "Tversky loss function for image segmentation using 3D fully convolutional deep networks",
  2017; alpha = beta = 0.5 is the Dice loss).

Dice and Tversky treat dimension 0 as the batch (one loss per sample, over all other
dimensions); a 0-d or 1-d input is a single sample.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def focal_loss(
    input: torch.Tensor, target: torch.Tensor, alpha: float = 1.0, gamma: float = 2.0, reduction: str = "mean"
) -> torch.Tensor:
    """Logits (N, C, *) and class indices (N, *): -alpha (1 - p_t)^gamma log p_t per sample."""
    log_p = F.log_softmax(input, dim=1 if input.dim() > 1 else 0)
    if input.dim() == 1:
        log_pt = log_p.gather(0, target.reshape(1)).reshape(())
    else:
        log_pt = log_p.gather(1, target.unsqueeze(1)).squeeze(1)
    pt = log_pt.exp()
    loss = -alpha * (1 - pt).pow(gamma) * log_pt
    return reduce(loss, reduction)


def _per_sample(input: torch.Tensor, target: torch.Tensor, logits: bool) -> tuple[torch.Tensor, torch.Tensor]:
    p = torch.sigmoid(input) if logits else input
    n = input.shape[0] if input.dim() >= 2 else 1
    return p.reshape(n, -1), target.reshape(n, -1)


def dice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    smooth: float = 1.0,
    reduction: str = "mean",
    logits: bool = True,
) -> torch.Tensor:
    p, t = _per_sample(input, target, logits)
    dice = (2 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)
    return reduce(1 - dice, reduction)


def tversky_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    alpha: float = 0.7,
    beta: float = 0.3,
    smooth: float = 1.0,
    reduction: str = "mean",
    logits: bool = True,
) -> torch.Tensor:
    p, t = _per_sample(input, target, logits)
    tp = (p * t).sum(1)
    fp = (p * (1 - t)).sum(1)
    fn = ((1 - p) * t).sum(1)
    index = (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)
    return reduce(1 - index, reduction)
