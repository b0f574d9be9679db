"""Vision operations: sampling grids, boxes (IoU, NMS, RoI Align/Pool) and image
normalization and resizing.  The box maths is in :mod:`tcltorch.vision`."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from tcltorch import vision as V
from tcltorch.commands.spec import (
    Bool,
    Choice,
    Custom,
    Double,
    Int,
    Opt,
    Shape,
    command,
    parse_tcl_int,
)
from tcltorch.commands.vocabulary import names_handles, tensor_opt
from tcltorch.errors import invalid_value

FAMILY = "tensors/vision"


def _boxes(t: torch.Tensor, option: str, columns: tuple[int, ...] = (4,)) -> None:
    if t.dim() != 2 or t.shape[1] not in columns:
        want = " or ".join(f"K×{c}" for c in columns)
        raise invalid_value(option, "", f"must be a {want} tensor of boxes (x1 y1 x2 y2)")


def _pair(text: str, option: str, ctx: Any) -> tuple[int, int]:
    words = ctx.split(text, option)
    values = [parse_tcl_int(w) for w in words]
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or any(v is None or v < 1 for v in values):
        raise invalid_value(option, text, "must be a positive integer or a list of two (height width)")
    return values[0], values[1]  # type: ignore[return-value]


OutputSize = Custom(_pair, "list of integers", "must be a positive integer or a list of two")


@command(
    "grid_sample",
    tensor_opt("input", "images N×C×H×W (or N×C×D×H×W)", ("tensor",)),
    tensor_opt("grid", "sampling locations N×Hout×Wout×2 in [-1, 1] (x, y)"),
    Opt("mode", Choice("bilinear", "nearest", "bicubic"), default="bilinear", help="interpolation"),
    Opt(
        "paddingMode",
        Choice("zeros", "border", "reflection"),
        default="zeros",
        help="values outside the input",
        aliases=("padding_mode",),
    ),
    Opt(
        "alignCorners",
        Bool(),
        default=False,
        help="-1 and 1 are the centres of the corner pixels",
        aliases=("align_corners",),
    ),
    context=True,
)
@names_handles
def grid_sample(input, grid, mode, padding_mode, align_corners):
    """Sample images at the locations of a grid (torch.nn.functional.grid_sample).

    ## Return Value

    A new tensor handle N×C×Hout×Wout.

    Examples:
        set img [torch::tensor_create {1 2 3 4} -shape {1 1 2 2}]
        set theta [torch::tensor_create {1 0 0 0 1 0} -shape {1 2 3}]
        set grid [torch::affine_grid $theta {1 1 2 2} -alignCorners 1]
        puts [torch::tensor_to_list [torch::grid_sample $img $grid -alignCorners 1]]   ;# -> {{{1.0 2.0} {3.0 4.0}}}
    """
    if input.dim() not in (4, 5) or grid.dim() != input.dim() or grid.shape[-1] != input.dim() - 2:
        raise invalid_value("-grid", "", "must be N×H×W×2 for 4-d input (N×D×H×W×3 for 5-d)")
    return F.grid_sample(
        input, grid.to(input.dtype), mode=mode, padding_mode=padding_mode, align_corners=align_corners
    )


@command(
    "affine_grid",
    tensor_opt("theta", "affine matrices N×2×3 (N×3×4 in 3-d)"),
    Opt("size", Shape(), help="output size N C H W (or N C D H W)"),
    Opt("alignCorners", Bool(), default=False, help="as for grid_sample", aliases=("align_corners",)),
)
def affine_grid(theta, size, align_corners):
    """A sampling grid for grid_sample from affine matrices (torch.nn.functional.affine_grid).

    ## Return Value

    A new tensor handle N×H×W×2.

    Examples:
        set theta [torch::tensor_create {1 0 0 0 1 0} -shape {1 2 3}]
        puts [torch::tensor_shape [torch::affine_grid $theta {1 3 4 5}]]   ;# -> 1 4 5 2
    """
    if len(size) not in (4, 5):
        raise invalid_value("-size", " ".join(map(str, size)), "must be N C H W or N C D H W")
    rows = len(size) - 2
    if theta.dim() != 3 or theta.shape[1:] != (rows, rows + 1) or theta.shape[0] != size[0]:
        raise invalid_value(
            "-theta", "", f"must be {size[0]}×{rows}×{rows + 1} for -size {{{' '.join(map(str, size))}}}"
        )
    return F.affine_grid(
        theta if theta.is_floating_point() else theta.float(), list(size), align_corners=align_corners
    )


@command(
    "box_iou",
    tensor_opt("boxes1", "N×4 boxes x1 y1 x2 y2", ("boxes",)),
    tensor_opt("boxes2", "M×4 boxes x1 y1 x2 y2"),
    context=True,
)
@names_handles
def box_iou(boxes1, boxes2):
    """Intersection over union of every pair of boxes (x1, y1, x2, y2), as torchvision.ops.box_iou.

    ## Return Value

    A new N×M tensor handle.

    Examples:
        set a [torch::tensor_create {{0 0 2 2}}]
        set b [torch::tensor_create {{1 1 3 3} {0 0 2 2}}]
        puts [torch::tensor_to_list [torch::box_iou $a $b]]   ;# -> {0.14285715 1.0}
    """
    _boxes(boxes1, "-boxes1")
    _boxes(boxes2, "-boxes2")
    dtype = torch.promote_types(boxes1.dtype, torch.float32)
    return V.box_iou(boxes1.to(dtype), boxes2.to(dtype))


@command(
    "nms",
    tensor_opt("boxes", "N×4 boxes x1 y1 x2 y2"),
    tensor_opt("scores", "N scores"),
    Opt(
        "iouThreshold",
        Double(ge=0),
        default=0.5,
        help="suppress boxes overlapping a kept one more than this",
        aliases=("iou_threshold", "threshold"),
    ),
    Opt(
        "scoreThreshold",
        Double(),
        default=None,
        help="first drop the boxes scoring below this",
        aliases=("score_threshold",),
        default_doc="none",
    ),
    extra_aliases=("Nms",),
    context=True,
)
@names_handles
def nms(boxes, scores, iou_threshold, score_threshold):
    """Non-maximum suppression (torchvision.ops.nms): indices of the boxes kept, by score.

    With `-scoreThreshold` (the other implementation's fourth positional word), boxes scoring
    below it are dropped first; the indices still count in the boxes given.

    ## Return Value

    A new int64 tensor handle of indices, highest score first.

    Examples:
        set boxes [torch::tensor_create {{0 0 10 10} {1 1 11 11} {20 20 30 30}}]
        set scores [torch::tensor_create {0.9 0.8 0.7}]
        puts [torch::tensor_to_list [torch::nms $boxes $scores 0.5]]   ;# -> 0 2
        puts [torch::tensor_to_list [torch::nms $boxes $scores 0.5 0.75]]   ;# -> 0
    """
    _boxes(boxes, "-boxes")
    if scores.dim() != 1 or scores.shape[0] != boxes.shape[0]:
        raise invalid_value("-scores", "", f"must be a 1-d tensor of {boxes.shape[0]} scores, one per box")
    if score_threshold is None:
        return V.nms(boxes.double(), scores, iou_threshold)
    candidates = torch.nonzero(scores >= score_threshold).flatten()
    return candidates[V.nms(boxes[candidates].double(), scores[candidates], iou_threshold)]


def _roi_args(input: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """The boxes as a K×4 or K×5 tensor; a 1-d tensor of 4 or 5 numbers is one box."""
    if input.dim() != 4:
        raise invalid_value("-input", "", "must be a N×C×H×W feature map")
    if boxes.dim() == 1 and boxes.shape[0] in (4, 5):
        boxes = boxes.unsqueeze(0)
    _boxes(boxes, "-boxes", (4, 5))
    if (
        boxes.shape[1] == 5
        and boxes.shape[0]
        and not (0 <= boxes[:, 0].min() and boxes[:, 0].max() < input.shape[0])
    ):
        raise invalid_value("-boxes", "", f"has image indices outside 0..{input.shape[0] - 1}")
    return boxes


@command(
    "roi_align",
    tensor_opt("input", "feature map N×C×H×W", ("tensor",)),
    tensor_opt("boxes", "K×4 boxes on image 0, or K×5 rows (image x1 y1 x2 y2)", ("rois",)),
    Opt("outputSize", OutputSize, help="output height and width", aliases=("output_size",)),
    Opt(
        "spatialScale",
        Double(gt=0),
        default=1.0,
        help="box coordinates × this = feature coordinates",
        aliases=("spatial_scale",),
    ),
    Opt(
        "samplingRatio",
        Int(),
        default=-1,
        help="samples per bin side (<= 0: adaptive)",
        aliases=("sampling_ratio",),
    ),
    Opt("aligned", Bool(), default=False, help="shift boxes by half a pixel (pixel-exact alignment)"),
    context=True,
)
@names_handles
def roi_align(input, boxes, output_size, spatial_scale, sampling_ratio, aligned):
    """RoI Align (Mask R-CNN), as torchvision.ops.roi_align defines it: bilinear samples averaged per bin.

    ## Return Value

    A new K×C×oh×ow tensor handle. A 1-d tensor of 4 numbers (or 5, the image index first) is one
    box, as the other implementation's scripts give it.

    Examples:
        set feat [torch::tensor_create {0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15} -shape {1 1 4 4}]
        set boxes [torch::tensor_create {{0 0 3 3}}]
        puts [torch::tensor_to_list [torch::roi_align $feat $boxes {2 2} -samplingRatio 1]]   ;# -> {{{3.75 5.25} {9.75 11.25}}}
    """
    boxes = _roi_args(input, boxes)
    return V.roi_align(
        input if input.is_floating_point() else input.float(),
        boxes,
        output_size,
        spatial_scale,
        sampling_ratio,
        aligned,
    )


@command(
    "roi_pool",
    tensor_opt("input", "feature map N×C×H×W", ("tensor",)),
    tensor_opt("boxes", "K×4 boxes on image 0, or K×5 rows (image x1 y1 x2 y2)", ("rois",)),
    Opt("outputSize", OutputSize, help="output height and width", aliases=("output_size",)),
    Opt(
        "spatialScale",
        Double(gt=0),
        default=1.0,
        help="box coordinates × this = feature coordinates",
        aliases=("spatial_scale",),
    ),
    context=True,
)
@names_handles
def roi_pool(input, boxes, output_size, spatial_scale):
    """RoI max pooling (Fast R-CNN), as torchvision.ops.roi_pool defines it.

    ## Return Value

    A new K×C×oh×ow tensor handle. A 1-d tensor of 4 numbers (or 5, the image index first) is one
    box, as the other implementation's scripts give it.

    Examples:
        set feat [torch::tensor_create {0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15} -shape {1 1 4 4}]
        puts [torch::tensor_to_list [torch::roi_pool $feat [torch::tensor_create {{0 0 3 3}}] 2]]   ;# -> {{{5.0 7.0} {13.0 15.0}}}
    """
    boxes = _roi_args(input, boxes)
    return V.roi_pool(
        input if input.is_floating_point() else input.float(), boxes, output_size, spatial_scale
    )


def _channels(image: torch.Tensor, values: torch.Tensor, option: str) -> None:
    if image.dim() == 0:
        raise invalid_value("-image", "", "must be an image: H×W, C×H×W or N×C×H×W (or a 1-d signal)")
    if image.dim() < 3:
        if values.numel() != 1:
            raise invalid_value(option, "", "must hold 1 value for a 1-d or 2-d (one-channel) image")
    elif values.numel() not in (1, image.shape[-3]):
        raise invalid_value(option, "", f"must hold 1 or {image.shape[-3]} values (one per channel)")


def _image_opts() -> list[Opt]:
    return [
        tensor_opt("image", "image C×H×W, batch N×C×H×W, or one channel H×W (or 1-d)", ("input", "tensor")),
        tensor_opt("mean", "per-channel means (C values, or one)"),
        tensor_opt("std", "per-channel standard deviations (C values, or one)"),
        Opt(
            "inplace",
            Bool(),
            default=False,
            help="write the result into the image (a float tensor) and return it",
        ),
    ]


def _image_result(image: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, inverse: bool, inplace: bool):
    """(De)normalized image; with ``inplace`` written into ``image`` itself, which is returned."""
    if inplace and not image.is_floating_point():
        raise invalid_value(
            "-inplace", "1", f"needs a floating-point image, not {image.dtype}".replace("torch.", "")
        )
    x = image if image.is_floating_point() else image.float()
    if image.dim() < 3:  # one channel: the single value broadcasts
        m, s = mean.reshape(()).to(x.dtype), std.reshape(()).to(x.dtype)
        out = x * s + m if inverse else (x - m) / s
    else:
        out = (V.denormalize_image if inverse else V.normalize_image)(x, mean, std)
    if not inplace:
        return out
    with torch.no_grad():
        image.copy_(out)
    return image


@command("normalize_image", *_image_opts(), context=True)
@names_handles
def normalize_image(image, mean, std, inplace):
    """(image − mean) / std per channel (torchvision's Normalize).

    A 2-d (H×W) or 1-d image is one channel: `mean` and `std` then hold one value each.

    ## Return Value

    A new tensor handle; with `-inplace 1`, the image's own handle, its values overwritten.

    Examples:
        set img [torch::ones {3 1 2}]
        set mean [torch::tensor_create {0.5 0.5 0.5}]
        set std [torch::tensor_create {0.5 0.25 1}]
        puts [torch::tensor_to_list [torch::normalize_image $img $mean $std]]   ;# -> {{1.0 1.0}} {{2.0 2.0}} {{0.5 0.5}}
    """
    _channels(image, mean, "-mean")
    _channels(image, std, "-std")
    if bool((std == 0).any()):
        raise invalid_value("-std", "", "must not contain zeros")
    return _image_result(image, mean, std, False, inplace)


@command("denormalize_image", *_image_opts(), context=True)
@names_handles
def denormalize_image(image, mean, std, inplace):
    """image × std + mean per channel: undoes normalize_image.

    A 2-d (H×W) or 1-d image is one channel: `mean` and `std` then hold one value each.

    ## Return Value

    A new tensor handle; with `-inplace 1`, the image's own handle, its values overwritten.

    Examples:
        set img [torch::tensor_create {1 2 0.5} -shape {3 1 1}]
        puts [torch::tensor_to_list [torch::denormalize_image $img [torch::tensor_create {0.5 0.5 0.5}] [torch::tensor_create {0.5 0.25 1}]]]   ;# -> 1.0 1.0 1.0
    """
    _channels(image, mean, "-mean")
    _channels(image, std, "-std")
    return _image_result(image, mean, std, True, inplace)


@command(
    "resize_image",
    tensor_opt("image", "image C×H×W or batch N×C×H×W", ("input", "tensor")),
    Opt("size", OutputSize, help="new height and width (one number: a square)"),
    Opt("mode", Choice("bilinear", "nearest", "bicubic", "area"), default="bilinear", help="interpolation"),
    Opt(
        "alignCorners",
        Bool(),
        default=False,
        help="for bilinear/bicubic: keep corner pixels aligned",
        aliases=("align_corners",),
    ),
    Opt("antialias", Bool(), default=False, help="low-pass filter when shrinking (bilinear/bicubic)"),
    context=True,
)
@names_handles
def resize_image(image, size, mode, align_corners, antialias):
    """Resize images to height × width (torch.nn.functional.interpolate).

    ## Return Value

    A new tensor handle with the same number of dimensions.

    Examples:
        set img [torch::tensor_create {1 2 3 4} -shape {1 2 2}]
        puts [torch::tensor_to_list [torch::resize_image $img {4 4} -mode nearest]]   ;# -> {{1.0 1.0 2.0 2.0} {1.0 1.0 2.0 2.0} {3.0 3.0 4.0 4.0} {3.0 3.0 4.0 4.0}}
    """
    if image.dim() not in (3, 4):
        raise invalid_value("-image", "", "must be C×H×W or N×C×H×W")
    if align_corners and mode not in ("bilinear", "bicubic"):  # torch's interpolate refuses it too
        raise invalid_value("-alignCorners", "1", f"applies to -mode bilinear or bicubic only, not {mode}")
    if antialias and mode not in ("bilinear", "bicubic"):
        raise invalid_value("-antialias", "1", f"applies to -mode bilinear or bicubic only, not {mode}")
    x = image if image.is_floating_point() else image.float()
    batch = x.unsqueeze(0) if x.dim() == 3 else x
    corners = align_corners if mode in ("bilinear", "bicubic") else None
    out = F.interpolate(
        batch,
        size=size,
        mode=mode,
        align_corners=corners,
        antialias=antialias and mode in ("bilinear", "bicubic"),
    )
    return out.squeeze(0) if x.dim() == 3 else out
