"""Vision operations: grid sampling against torch.nn.functional, boxes against
torchvision's definitions written out as plain scalar loops."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import tcl_tensor

import tcltorch


def test_affine_grid_and_grid_sample_equal_torch(tcl):
    theta = torch.tensor([[[0.8, -0.2, 0.1], [0.3, 1.1, -0.2]]])
    img = torch.randn(1, 2, 5, 6)
    t, i = tcl.put(theta), tcl.put(img)
    for align in (0, 1):
        grid = tcl_tensor(tcl, f"torch::affine_grid {t} {{1 2 4 3}} {align}")
        torch.testing.assert_close(grid, F.affine_grid(theta, [1, 2, 4, 3], align_corners=bool(align)))
        for mode, pad in (("bilinear", "zeros"), ("nearest", "border"), ("bicubic", "reflection")):
            got = tcl_tensor(tcl, f"torch::grid_sample {i} {tcl.put(grid)} {mode} {pad} {align}")
            want = F.grid_sample(img, grid, mode=mode, padding_mode=pad, align_corners=bool(align))
            torch.testing.assert_close(got, want)


def iou_loop(a, b):
    out = []
    for p in a.tolist():
        row = []
        for q in b.tolist():
            w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            inter = w * h
            row.append(inter / ((p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter))
        out.append(row)
    return torch.tensor(out, dtype=torch.float64)


def random_boxes(n, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * 20
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * 10 + 1
    return torch.cat([xy, xy + wh], 1)


def test_box_iou_and_nms(tcl):
    a, b = random_boxes(6, 0), random_boxes(4, 1)
    torch.testing.assert_close(tcl_tensor(tcl, f"torch::box_iou {tcl.put(a)} {tcl.put(b)}"), iou_loop(a, b))
    scores = torch.rand(6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    for threshold in (0.0, 0.2, 0.5, 1.0):
        got = tcl_tensor(tcl, f"torch::nms {tcl.put(a)} {tcl.put(scores)} {threshold}").tolist()
        order = sorted(range(6), key=lambda k: -scores[k].item())
        iou, keep = iou_loop(a, a), []
        for k in order:
            if all(iou[k, j] <= threshold for j in keep):
                keep.append(k)
        assert got == keep


def bilinear(feat, y, x):
    h, w = feat.shape
    if y < -1 or y > h or x < -1 or x > w:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    yl, xl = int(y), int(x)
    if yl >= h - 1:
        yh = yl = h - 1
        y = float(yl)
    else:
        yh = yl + 1
    if xl >= w - 1:
        xh = xl = w - 1
        x = float(xl)
    else:
        xh = xl + 1
    ly, lx = y - yl, x - xl
    return (
        (1 - ly) * (1 - lx) * feat[yl, xl]
        + (1 - ly) * lx * feat[yl, xh]
        + ly * (1 - lx) * feat[yh, xl]
        + ly * lx * feat[yh, xh]
    ).item()


def roi_align_loop(feat, boxes, ph, pw, scale, ratio, aligned):
    out = torch.zeros(len(boxes), feat.shape[1], ph, pw, dtype=torch.float64)
    off = 0.5 if aligned else 0.0
    for k, (bi, x1, y1, x2, y2) in enumerate(boxes):
        x1, y1, x2, y2 = x1 * scale - off, y1 * scale - off, x2 * scale - off, y2 * scale - off
        rw, rh = x2 - x1, y2 - y1
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        gh = ratio if ratio > 0 else math.ceil(rh / ph)
        gw = ratio if ratio > 0 else math.ceil(rw / pw)
        for c in range(feat.shape[1]):
            for i in range(ph):
                for j in range(pw):
                    total = 0.0
                    for iy in range(gh):
                        for ix in range(gw):
                            y = y1 + i * bh + (iy + 0.5) * bh / gh
                            x = x1 + j * bw + (ix + 0.5) * bw / gw
                            total += bilinear(feat[int(bi), c], y, x)
                    out[k, c, i, j] = total / max(gh * gw, 1)
    return out


@pytest.mark.parametrize("ratio,aligned,scale", [(-1, 0, 1.0), (2, 1, 0.5), (1, 0, 0.25)])
def test_roi_align_follows_torchvision_definition(tcl, ratio, aligned, scale):
    feat = torch.randn(2, 2, 6, 7, dtype=torch.float64)
    boxes = [[0, 0.5, 1.0, 5.0, 4.5], [1, 2.0, 0.0, 6.5, 5.5], [0, -1.0, -1.0, 3.0, 2.0]]
    got = tcl_tensor(
        tcl,
        f"torch::roi_align {tcl.put(feat)} {tcl.put(torch.tensor(boxes, dtype=torch.float64))} "
        f"{{2 3}} {scale} {ratio} {aligned}",
    )
    torch.testing.assert_close(got, roi_align_loop(feat, boxes, 2, 3, scale, ratio, aligned))


def test_roi_pool_follows_torchvision_definition(tcl):
    feat = torch.randn(1, 3, 8, 8, dtype=torch.float64)
    boxes = torch.tensor([[1.0, 1.0, 6.0, 4.0], [0.0, 0.0, 7.0, 7.0]], dtype=torch.float64)
    got = tcl_tensor(tcl, f"torch::roi_pool {tcl.put(feat)} {tcl.put(boxes)} {{2 2}}")
    for k, (x1, y1, x2, y2) in enumerate(boxes.round().long().tolist()):
        bh, bw = (y2 - y1 + 1) / 2, (x2 - x1 + 1) / 2
        for i in range(2):
            for j in range(2):
                hs, he = math.floor(i * bh) + y1, math.ceil((i + 1) * bh) + y1
                ws, we = math.floor(j * bw) + x1, math.ceil((j + 1) * bw) + x1
                want = feat[0, :, hs:he, ws:we].amax(dim=(-2, -1))
                torch.testing.assert_close(got[k, :, i, j], want)


def test_normalize_denormalize_and_resize(tcl):
    img = torch.rand(2, 3, 4, 5)
    mean, std = torch.tensor([0.4, 0.5, 0.6]), torch.tensor([0.2, 0.3, 0.4])
    i, m, s = tcl.put(img), tcl.put(mean), tcl.put(std)
    n = tcl_tensor(tcl, f"torch::normalize_image {i} {m} {s}")
    torch.testing.assert_close(n, (img - mean.view(3, 1, 1)) / std.view(3, 1, 1))
    torch.testing.assert_close(tcl_tensor(tcl, f"torch::denormalize_image {tcl.put(n)} {m} {s}"), img)
    for mode in ("bilinear", "nearest", "bicubic", "area"):
        got = tcl_tensor(tcl, f"torch::resize_image {i} {{7 3}} -mode {mode}")
        want = F.interpolate(
            img, size=(7, 3), mode=mode, align_corners=False if mode in ("bilinear", "bicubic") else None
        )
        torch.testing.assert_close(got, want)
    assert tcl_tensor(tcl, f"torch::resize_image {tcl.put(img[0])} 6").shape == (3, 6, 6)


@pytest.mark.parametrize(
    "script,code",
    [
        ("torch::box_iou [torch::ones {2 3}] [torch::ones {1 4}]", ["TORCH", "VALUE", "-boxes1"]),
        ("torch::nms [torch::ones {2 4}] [torch::ones 3]", ["TORCH", "VALUE", "-scores"]),
        (
            "torch::roi_align [torch::ones {1 1 4 4}] [torch::tensor_create {{5 0 0 1 1}}] 2",
            ["TORCH", "VALUE", "-boxes"],
        ),
        ("torch::roi_pool [torch::ones {1 4 4}] [torch::ones {1 4}] 2", ["TORCH", "VALUE", "-input"]),
        (
            "torch::normalize_image [torch::ones {3 2 2}] [torch::ones 2] [torch::ones 3]",
            ["TORCH", "VALUE", "-mean"],
        ),
        (
            "torch::normalize_image [torch::ones {3 2 2}] [torch::ones 3] [torch::zeros 3]",
            ["TORCH", "VALUE", "-std"],
        ),
        ("torch::resize_image [torch::ones {3 2 2}] {0 2}", ["TORCH", "VALUE", "-size"]),
        ("torch::affine_grid [torch::ones {1 2 3}] {1 1 4}", ["TORCH", "VALUE", "-size"]),
    ],
)
def test_errors_name_the_option(tcl, script, code):
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval(script)
    assert info.value.errorcode == code
