"""Detection and image operations written with torch ops: box IoU, non-maximum
suppression, RoI Align and RoI Pool (torchvision's definitions; torchvision has no CPU
build for the torch version tcltorch pins), and per-channel image normalization."""

from __future__ import annotations

import math

import torch


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise intersection over union of boxes (x1, y1, x2, y2): shape (N, M)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return inter / union


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the boxes kept, highest score first: each box suppresses the lower-scored
    ones that overlap it with IoU above the threshold."""
    order = torch.argsort(scores, descending=True, stable=True)
    if order.numel() == 0:
        return order
    iou = box_iou(boxes[order], boxes[order])
    keep: list[int] = []
    suppressed = torch.zeros(order.numel(), dtype=torch.bool)
    for i in range(order.numel()):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long)]


def _rois(boxes: torch.Tensor) -> torch.Tensor:
    """K×4 boxes (all on image 0) or K×5 rows (image index, x1, y1, x2, y2) -> K×5."""
    if boxes.dim() == 2 and boxes.shape[1] == 4:
        return torch.cat([torch.zeros(boxes.shape[0], 1, dtype=boxes.dtype, device=boxes.device), boxes], 1)
    return boxes


def _bilinear(feature: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """torchvision's bilinear_interpolate for (C, H, W) at points y, x (same shape S): (C, S)."""
    _, height, width = feature.shape
    outside = (y < -1.0) | (y > height) | (x < -1.0) | (x > width)
    y = y.clamp(min=0)
    x = x.clamp(min=0)
    y_low = y.floor().long()
    x_low = x.floor().long()
    y_edge = y_low >= height - 1
    x_edge = x_low >= width - 1
    y_low = torch.where(y_edge, torch.full_like(y_low, height - 1), y_low)
    x_low = torch.where(x_edge, torch.full_like(x_low, width - 1), x_low)
    y_high = torch.where(y_edge, y_low, y_low + 1)
    x_high = torch.where(x_edge, x_low, x_low + 1)
    y = torch.where(y_edge, y_low.to(y.dtype), y)
    x = torch.where(x_edge, x_low.to(x.dtype), x)
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    flat = feature.reshape(feature.shape[0], -1)

    def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        return flat[:, (yy * width + xx).reshape(-1)].reshape((feature.shape[0],) + yy.shape)

    value = (
        hy * hx * at(y_low, x_low)
        + hy * lx * at(y_low, x_high)
        + ly * hx * at(y_high, x_low)
        + ly * lx * at(y_high, x_high)
    )
    return torch.where(outside, torch.zeros_like(value), value)


def roi_align(
    input: torch.Tensor,
    boxes: torch.Tensor,
    output_size: tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> torch.Tensor:
    """RoI Align (He et al., Mask R-CNN) as torchvision defines it: shape (K, C, oh, ow)."""
    rois = _rois(boxes).to(input.dtype)
    ph, pw = output_size
    offset = 0.5 if aligned else 0.0
    out = input.new_zeros((rois.shape[0], input.shape[1], ph, pw))
    for k, roi in enumerate(rois.tolist()):
        image = int(roi[0])
        x1, y1, x2, y2 = (v * spatial_scale - offset for v in roi[1:])
        roi_w, roi_h = x2 - x1, y2 - y1
        if not aligned:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / ph, roi_w / pw
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / ph)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / pw)
        count = max(gh * gw, 1)
        iy = torch.arange(gh, dtype=input.dtype)
        ix = torch.arange(gw, dtype=input.dtype)
        ys = (
            y1 + torch.arange(ph, dtype=input.dtype)[:, None] * bin_h + (iy[None, :] + 0.5) * bin_h / gh
        )  # ph×gh
        xs = (
            x1 + torch.arange(pw, dtype=input.dtype)[:, None] * bin_w + (ix[None, :] + 0.5) * bin_w / gw
        )  # pw×gw
        y = ys[:, :, None, None].expand(ph, gh, pw, gw)
        x = xs[None, None, :, :].expand(ph, gh, pw, gw)
        values = _bilinear(input[image], y, x)  # C × ph × gh × pw × gw
        out[k] = values.sum(dim=(2, 4)) / count
    return out


def _round_half_away(value: float) -> int:
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def roi_pool(
    input: torch.Tensor, boxes: torch.Tensor, output_size: tuple[int, int], spatial_scale: float = 1.0
) -> torch.Tensor:
    """RoI max pooling (Fast R-CNN) as torchvision defines it: shape (K, C, oh, ow)."""
    rois = _rois(boxes)
    ph, pw = output_size
    height, width = input.shape[-2:]
    out = input.new_zeros((rois.shape[0], input.shape[1], ph, pw))
    for k, roi in enumerate(rois.tolist()):
        image = int(roi[0])
        x1, y1, x2, y2 = (_round_half_away(v * spatial_scale) for v in roi[1:])
        roi_w, roi_h = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
        bin_h, bin_w = roi_h / ph, roi_w / pw
        for i in range(ph):
            hs = min(max(math.floor(i * bin_h) + y1, 0), height)
            he = min(max(math.ceil((i + 1) * bin_h) + y1, 0), height)
            for j in range(pw):
                ws = min(max(math.floor(j * bin_w) + x1, 0), width)
                we = min(max(math.ceil((j + 1) * bin_w) + x1, 0), width)
                if he > hs and we > ws:
                    out[k, :, i, j] = input[image, :, hs:he, ws:we].amax(dim=(-2, -1))
    return out


def channel_view(values: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Per-channel values (C,) shaped to broadcast over an image (..., C, H, W)."""
    return values.reshape(-1, 1, 1).to(image.dtype)


def normalize_image(image: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (image - channel_view(mean, image)) / channel_view(std, image)


def denormalize_image(image: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return image * channel_view(std, image) + channel_view(mean, image)
