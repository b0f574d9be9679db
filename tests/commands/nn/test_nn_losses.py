"""The losses of tcltorch/commands/nn/more_losses.py against torch.nn.functional, and the
three from papers (focal, dice, tversky) against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

# one interpreter for the whole file (making one costs more than most cases)
pytestmark = pytest.mark.shared_interp

F32, F64 = torch.float32, torch.float64


def _pm1(*shape):
    return torch.randint(0, 2, shape) * 2 - 1


def _cases():
    g = torch.Generator().manual_seed(3)

    def r(*shape):
        return torch.randn(*shape, generator=g)

    probs = torch.softmax(r(3, 4), 1)
    ml_target = torch.tensor([[3, 0, -1, 1], [1, -1, 0, 0], [0, 1, 2, 3]])
    return [
        # name, Tcl argument words after the tensors, tensors, reference(tensors, reduction)
        (
            "huber_loss",
            "{} 0.5",
            [r(3, 4), r(3, 4)],
            lambda a, b, red: F.huber_loss(a, b, reduction=red, delta=0.5),
        ),
        (
            "kl_div_loss",
            "{} 1",
            [torch.log_softmax(r(3, 4), 1), torch.log(probs)],
            lambda a, b, red: F.kl_div(a, b, reduction=red, log_target=True),
        ),
        (
            "poisson_nll_loss",
            "0 1 {}",
            [torch.rand(3, 4, generator=g) + 0.1, torch.randint(0, 4, (3, 4)).float()],
            lambda a, b, red: F.poisson_nll_loss(a, b, False, True, reduction=red),
        ),
        (
            "gaussian_nll_loss",
            "1 1e-3 {}",
            [r(3, 2), r(3, 2), torch.rand(3, 1, generator=g)],
            lambda a, b, v, red: F.gaussian_nll_loss(a, b, v, True, 1e-3, red),
        ),
        (
            "cosine_embedding_loss",
            "0.2 {}",
            [r(4, 3), r(4, 3), _pm1(4).float()],
            lambda a, b, y, red: F.cosine_embedding_loss(a, b, y, 0.2, reduction=red),
        ),
        (
            "margin_ranking_loss",
            "0.1 {}",
            [r(5), r(5), _pm1(5).float()],
            lambda a, b, y, red: F.margin_ranking_loss(a, b, y, 0.1, reduction=red),
        ),
        (
            "hinge_embedding_loss",
            "0.5 {}",
            [r(5).abs(), _pm1(5).float()],
            lambda a, y, red: F.hinge_embedding_loss(a, y, 0.5, reduction=red),
        ),
        (
            "triplet_margin_loss",
            "0.5 1 {} -swap 1",
            [r(4, 3), r(4, 3), r(4, 3)],
            lambda a, p, n, red: F.triplet_margin_loss(a, p, n, 0.5, 1.0, swap=True, reduction=red),
        ),
        (
            "triplet_margin_with_distance_loss",
            "0.3 0 {} -distanceFunction cosine",
            [r(4, 3), r(4, 3), r(4, 3)],
            lambda a, p, n, red: F.triplet_margin_with_distance_loss(
                a,
                p,
                n,
                distance_function=lambda x, y: 1 - F.cosine_similarity(x, y),
                margin=0.3,
                reduction=red,
            ),
        ),
        (
            "multi_margin_loss",
            "2 0.5 {}",
            [r(3, 4), torch.tensor([0, 3, 1])],
            lambda a, y, red: F.multi_margin_loss(a, y, 2, 0.5, reduction=red),
        ),
        (
            "multilabel_margin_loss",
            "{}",
            [r(3, 4), ml_target],
            lambda a, y, red: F.multilabel_margin_loss(a, y, reduction=red),
        ),
        (
            "multilabel_soft_margin_loss",
            "{}",
            [r(3, 4), torch.randint(0, 2, (3, 4)).float()],
            lambda a, y, red: F.multilabel_soft_margin_loss(a, y, reduction=red),
        ),
        (
            "soft_margin_loss",
            "{}",
            [r(3, 4), _pm1(3, 4).float()],
            lambda a, y, red: F.soft_margin_loss(a, y, reduction=red),
        ),
    ]


CASES = _cases()


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("name, words, tensors, ref", CASES, ids=[c[0] for c in CASES])
def test_loss_is_its_torch_function(interp, name, words, tensors, ref, dtype, reduction):
    tensors = [t.to(dtype) if t.is_floating_point() else t for t in tensors]
    handles = " ".join(interp.put(t) for t in tensors)
    got = interp.get(interp.eval(f"torch::{name} {handles} {words.format(reduction)}"))
    want = ref(*tensors, reduction)
    assert got.dtype == dtype and got.shape == want.shape
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == F32 else {"rtol": 1e-10, "atol": 1e-12}
    torch.testing.assert_close(got, want, **tol)


def test_peer_numeric_reductions_and_named_form(interp):
    a, b = interp.put(torch.tensor([0.0, 3.0])), interp.put(torch.tensor([1.0, 0.0]))
    assert interp.eval(f"torch::tensor_item [torch::huberLoss {a} {b} 2]") == "3.0"  # 0.5 + 2.5
    assert (
        interp.eval(f"torch::tensor_to_list [torch::huber_loss -input {a} -target {b} -reduction 0]")
        == "0.5 2.5"
    )
    with pytest.raises(Exception, match='invalid -reduction "avg": must be mean, sum, or none'):
        interp.eval(f"torch::huber_loss {a} {b} avg")
    with pytest.raises(Exception, match="must hold only 1 and -1"):
        interp.eval(f"torch::soft_margin_loss {a} {b}")


# -- focal, dice, tversky: values worked out by hand -------------------------------------------------


def test_focal_loss_by_hand(interp):
    # logits {ln 3, 0}: p(class 0) = 3/4.  Target 0: -(1/4)^2 ln(3/4); target 1: -(3/4)^2 ln(1/4).
    logits = interp.put(torch.tensor([[math.log(3.0), 0.0], [math.log(3.0), 0.0]], dtype=F64))
    y = interp.put(torch.tensor([0, 1]))
    got = interp.get(interp.eval(f"torch::focal_loss {logits} {y} 1.0 2.0 none"))
    want = torch.tensor([-(0.25**2) * math.log(0.75), -(0.75**2) * math.log(0.25)], dtype=F64)
    torch.testing.assert_close(got, want)
    mean = float(
        interp.eval(f"torch::tensor_item [torch::focalLoss -input {logits} -target {y} -alpha 0.25]")
    )
    assert mean == pytest.approx(0.25 * float(want.mean()))
    # gamma 0, alpha 1 is the cross-entropy; float class indices are accepted when whole
    ce = float(interp.eval(f"torch::tensor_item [torch::focal_loss {logits} {y} 1 0]"))
    assert ce == pytest.approx((-math.log(0.75) - math.log(0.25)) / 2)
    yf = interp.put(torch.tensor([0.0, 1.0]))
    assert float(interp.eval(f"torch::tensor_item [torch::focal_loss {logits} {yf} 1 0]")) == pytest.approx(
        ce
    )


def test_focal_loss_spatial_targets(interp):
    x = torch.randn(2, 3, 4, dtype=F64)
    y = torch.randint(0, 3, (2, 4))
    got = interp.get(interp.eval(f"torch::focal_loss {interp.put(x)} {interp.put(y)} 0.5 1.5 sum"))
    logp = torch.log_softmax(x, 1).gather(1, y.unsqueeze(1)).squeeze(1)
    torch.testing.assert_close(got, (-0.5 * (1 - logp.exp()) ** 1.5 * logp).sum())


def test_dice_loss_by_hand(interp):
    # sample 1: P = {1 0 1 0}, T = {1 1 0 0}: (2*1 + 1) / (2 + 2 + 1) = 3/5 -> loss 2/5
    # sample 2: P = {0.5 0.5 0 0}, T = {1 0 0 0}: (2*0.5 + 1) / (1 + 1 + 1) = 2/3 -> loss 1/3
    p = interp.put(torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.5, 0.5, 0.0, 0.0]], dtype=F64))
    t = interp.put(torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]], dtype=F64))
    got = interp.get(interp.eval(f"torch::dice_loss {p} {t} 1.0 none -logits 0"))
    torch.testing.assert_close(got, torch.tensor([2 / 5, 1 / 3], dtype=F64))
    got = float(interp.eval(f"torch::tensor_item [torch::diceLoss {p} {t} 0 sum -logits 0]"))
    assert got == pytest.approx((1 - 2 / 4) + (1 - 1 / 2))  # smooth 0
    # logits pass through a sigmoid: logit 0 is probability 1/2
    z = interp.put(torch.zeros(1, 2, dtype=F64))
    one = interp.put(torch.tensor([[1.0, 0.0]], dtype=F64))
    got = float(interp.eval(f"torch::tensor_item [torch::dice_loss {z} {one}]"))
    assert got == pytest.approx(1 - (2 * 0.5 + 1) / (1 + 1 + 1))


def test_tversky_loss_by_hand(interp):
    # P = {1 0 1 0}, T = {1 1 0 0}: TP 1, FP 1, FN 1.
    p = interp.put(torch.tensor([[1.0, 0.0, 1.0, 0.0]], dtype=F64))
    t = interp.put(torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=F64))
    got = float(interp.eval(f"torch::tensor_item [torch::tversky_loss {p} {t} 0.7 0.3 0 -logits 0]"))
    assert got == pytest.approx(1 - 1 / (1 + 0.7 + 0.3))
    got = float(interp.eval(f"torch::tensor_item [torch::tversky_loss {p} {t} 0.2 0.8 1 -logits 0]"))
    assert got == pytest.approx(1 - 2 / (1 + 0.2 + 0.8 + 1))
    # alpha = beta = 0.5 is the Dice loss (Dice's smoothing s is s/2 here)
    dice = float(interp.eval(f"torch::tensor_item [torch::dice_loss {p} {t} 1 -logits 0]"))
    tv = float(
        interp.eval(
            f"torch::tensor_item [torch::tverskyLoss -input {p} -target {t} -alpha 0.5 -beta 0.5 "
            "-smooth 0.5 -logits 0]"
        )
    )
    assert tv == pytest.approx(dice)


def test_paper_losses_have_gradients(interp):
    x = torch.randn(2, 3, requires_grad=True)
    t = torch.randint(0, 2, (2, 3)).float()
    for script in (
        f"torch::dice_loss {interp.put(x)} {interp.put(t)}",
        f"torch::tversky_loss {interp.put(x)} {interp.put(t)}",
        f"torch::focal_loss {interp.put(x)} {interp.put(torch.tensor([0, 2]))}",
    ):
        x.grad = None
        interp.get(interp.eval(script)).backward()
        assert x.grad is not None and bool(torch.isfinite(x.grad).all())
