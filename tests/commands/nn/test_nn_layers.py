"""Every row of the layer tables (tcltorch/commands/nn/) against the torch.nn class it names:
the module made from Tcl has the reference's type and hyperparameters (its repr), layer_forward
returns what calling the reference does, and the tensor form returns the same."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from tcltorch.commands import load_all
from tcltorch.commands.nn._dual import DualCommand

# one interpreter for the whole file (making one costs more than most cases)
pytestmark = pytest.mark.shared_interp

F32, F64 = torch.float32, torch.float64


# name, Tcl arguments, reference module, input shape, tensor form too (None: it has one if dual)
CASES = [
    # activations
    ("selu", "", lambda: nn.SELU(), (2, 5), None),
    ("elu", "0.5", lambda: nn.ELU(0.5), (2, 5), None),
    ("leaky_relu", "-negative_slope 0.2", lambda: nn.LeakyReLU(0.2), (2, 5), None),
    ("relu6", "", lambda: nn.ReLU6(), (2, 5), None),
    ("hardtanh", "-0.5 0.5", lambda: nn.Hardtanh(-0.5, 0.5), (2, 5), None),
    ("hardswish", "", lambda: nn.Hardswish(), (2, 5), None),
    ("hardsigmoid", "", lambda: nn.Hardsigmoid(), (2, 5), None),
    ("silu", "", lambda: nn.SiLU(), (2, 5), None),
    ("mish", "", lambda: nn.Mish(), (2, 5), None),
    ("softplus", "2 10", lambda: nn.Softplus(2.0, 10.0), (2, 5), None),
    ("softsign", "", lambda: nn.Softsign(), (2, 5), None),
    ("tanhshrink", "", lambda: nn.Tanhshrink(), (2, 5), None),
    ("threshold", "0.1 -2", lambda: nn.Threshold(0.1, -2.0), (2, 5), None),
    ("celu", "-alpha 2", lambda: nn.CELU(2.0), (2, 5), None),
    ("softmin", "0", lambda: nn.Softmin(0), (3, 4), None),
    ("logsoftmax", "-dim 1", lambda: nn.LogSoftmax(1), (3, 4), None),
    ("glu", "", lambda: nn.GLU(), (3, 4), None),
    ("prelu", "3 0.1", lambda: nn.PReLU(3, 0.1), (2, 3, 4), False),
    ("rrelu", "0.1 0.2", lambda: nn.RReLU(0.1, 0.2), (2, 5), False),
    ("softmax2d", "", lambda: nn.Softmax2d(), (2, 3, 2, 2), None),
    # convolution
    ("conv1d", "2 4 3 2 1", lambda: nn.Conv1d(2, 4, 3, 2, 1), (2, 2, 9), False),
    (
        "conv3d",
        "2 2 {1 2 2} -groups 2 -paddingMode circular -padding 1",
        lambda: nn.Conv3d(2, 2, (1, 2, 2), padding=1, groups=2, padding_mode="circular"),
        (1, 2, 3, 4, 4),
        False,
    ),
    ("conv_transpose1d", "2 3 3 2 1 1", lambda: nn.ConvTranspose1d(2, 3, 3, 2, 1, 1), (1, 2, 5), False),
    (
        "conv_transpose2d",
        "2 2 2 -stride 2 -bias 0",
        lambda: nn.ConvTranspose2d(2, 2, 2, 2, bias=False),
        (1, 2, 3, 3),
        False,
    ),
    (
        "conv_transpose3d",
        "1 2 2 -dilation 2",
        lambda: nn.ConvTranspose3d(1, 2, 2, dilation=2),
        (1, 1, 2, 2, 2),
        False,
    ),
    ("unfold", "2 1 1 2", lambda: nn.Unfold(2, 1, 1, 2), (1, 2, 5, 5), False),
    ("fold", "{3 3} 2", lambda: nn.Fold((3, 3), 2), (1, 8, 4), None),
    # pooling
    ("maxpool1d", "3 2 1", lambda: nn.MaxPool1d(3, 2, 1), (2, 3, 9), None),
    ("maxpool2d", "2 -ceilMode 1", lambda: nn.MaxPool2d(2, ceil_mode=True), (2, 3, 5, 5), None),
    ("maxpool3d", "{1 2 2} -dilation 1", lambda: nn.MaxPool3d((1, 2, 2)), (1, 2, 2, 4, 4), None),
    ("avgpool1d", "2 1 1 0 0", lambda: nn.AvgPool1d(2, 1, 1, False, False), (2, 3, 6), None),
    (
        "avgpool2d",
        "3 -padding 1 -divisorOverride 2",
        lambda: nn.AvgPool2d(3, padding=1, divisor_override=2),
        (1, 2, 5, 5),
        None,
    ),
    ("avgpool3d", "2", lambda: nn.AvgPool3d(2), (1, 1, 4, 4, 4), None),
    ("adaptive_avgpool1d", "3", lambda: nn.AdaptiveAvgPool1d(3), (2, 3, 7), None),
    ("adaptive_avgpool2d", "{2 3}", lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 5, 7), None),
    ("adaptive_avgpool3d", "1", lambda: nn.AdaptiveAvgPool3d(1), (1, 2, 3, 3, 3), None),
    ("adaptive_maxpool1d", "2", lambda: nn.AdaptiveMaxPool1d(2), (2, 3, 7), None),
    ("adaptive_maxpool2d", "{2 2}", lambda: nn.AdaptiveMaxPool2d((2, 2)), (2, 3, 5, 5), None),
    ("adaptive_maxpool3d", "2", lambda: nn.AdaptiveMaxPool3d(2), (1, 2, 4, 4, 4), None),
    ("fractional_maxpool2d", "2 -outputSize 3", lambda: nn.FractionalMaxPool2d(2, 3), (1, 2, 6, 6), None),
    (
        "fractional_maxpool3d",
        "2 -outputRatio 0.5",
        lambda: nn.FractionalMaxPool3d(2, output_ratio=0.5),
        (1, 1, 4, 4, 4),
        None,
    ),
    ("lppool1d", "2 3", lambda: nn.LPPool1d(2.0, 3), (2, 3, 9), None),
    ("lppool2d", "1 2 1", lambda: nn.LPPool2d(1.0, 2, 1), (1, 2, 4, 4), None),
    ("lppool3d", "2 2", lambda: nn.LPPool3d(2.0, 2), (1, 1, 4, 4, 4), None),
    # normalization
    ("batch_norm2d", "3 1e-3 0.2", lambda: nn.BatchNorm2d(3, 1e-3, 0.2), (4, 3, 2, 2), False),
    ("batch_norm1d", "3 -affine 0", lambda: nn.BatchNorm1d(3, affine=False), (4, 3), False),
    ("batch_norm3d", "2", lambda: nn.BatchNorm3d(2), (2, 2, 2, 2, 2), False),
    ("instance_norm1d", "3", lambda: nn.InstanceNorm1d(3), (2, 3, 5), False),
    ("instance_norm2d", "3 -affine 1", lambda: nn.InstanceNorm2d(3, affine=True), (2, 3, 4, 4), False),
    (
        "instance_norm3d",
        "2 1e-5 0.1 0 1",
        lambda: nn.InstanceNorm3d(2, track_running_stats=True),
        (2, 2, 2, 3, 3),
        False,
    ),
    ("group_norm", "2 4 1e-4", lambda: nn.GroupNorm(2, 4, 1e-4), (3, 4, 5), False),
    ("rms_norm", "{2 3} 1e-6", lambda: nn.RMSNorm((2, 3), 1e-6), (4, 2, 3), False),
    (
        "local_response_norm",
        "3 0.01 0.5 2",
        lambda: nn.LocalResponseNorm(3, 0.01, 0.5, 2.0),
        (2, 5, 3, 3),
        None,
    ),
    ("cross_map_lrn2d", "3 0.01", lambda: nn.CrossMapLRN2d(3, 0.01, 0.75, 1.0), (2, 5, 3, 3), None),
    # padding
    *[
        (f"{kind}_pad{n}d", arg, (lambda c=cls, p=pad: c(p)), shape, None)
        for kind, prefix in (
            ("reflection", "Reflection"),
            ("replication", "Replication"),
            ("circular", "Circular"),
            ("zero", "Zero"),
        )
        for n, arg, pad, shape, cls in (
            (1, "{2 1}", (2, 1), (2, 3, 5), getattr(nn, f"{prefix}Pad1d")),
            (2, "1", 1, (1, 2, 4, 4), getattr(nn, f"{prefix}Pad2d")),
            (3, "{1 0 2 1 0 1}", (1, 0, 2, 1, 0, 1), (1, 1, 3, 3, 3), getattr(nn, f"{prefix}Pad3d")),
        )
    ],
    # vision
    ("pixel_shuffle", "2", lambda: nn.PixelShuffle(2), (1, 8, 2, 3), None),
    ("pixel_unshuffle", "2", lambda: nn.PixelUnshuffle(2), (1, 2, 4, 6), None),
    ("channel_shuffle", "3", lambda: nn.ChannelShuffle(3), (2, 6, 2, 2), None),
    (
        "upsample_nearest",
        "-scaleFactor 2",
        lambda: nn.UpsamplingNearest2d(scale_factor=2),
        (1, 2, 3, 3),
        None,
    ),
    ("upsample_bilinear", "{5 4}", lambda: nn.UpsamplingBilinear2d((5, 4)), (1, 2, 3, 3), None),
    (
        "interpolate",
        "{5 7} bilinear 0",
        lambda: nn.Upsample((5, 7), mode="bilinear", align_corners=False),
        (1, 2, 3, 3),
        None,
    ),
]

IDS = [c[0] for c in CASES]


def _tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == F32 else {"rtol": 1e-10, "atol": 1e-12}


def test_every_table_row_has_a_case():
    tables = {n for n, c in load_all().items() if getattr(c, "torch_class", None) is not None}
    tables -= {"embedding_bag", "sparse_embedding"}  # index inputs: tested below
    assert tables - set(IDS) == set()


@pytest.mark.parametrize("name, args, make, shape, tensor_form", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
def test_row_is_its_torch_module(interp, name, args, make, shape, tensor_form, dtype):
    handle = interp.eval(f"torch::{name} {args}")
    module = interp.get(handle)
    ref = make()
    assert type(module) is type(ref)
    assert repr(module) == repr(ref)
    kind = type(ref).__name__.lower()
    assert handle.startswith(kind) and handle[len(kind) :].isdigit()
    ref.load_state_dict(module.state_dict())
    if dtype == F64:
        module.double(), ref.double()
    x = torch.randn(shape, dtype=dtype)
    torch.manual_seed(7)
    got = interp.get(interp.eval(f"torch::layer_forward {handle} {interp.put(x)}"))
    torch.manual_seed(7)
    want = ref(x)
    torch.testing.assert_close(got, want, **_tol(dtype))
    cmd = load_all()[name]
    if tensor_form is None:
        tensor_form = isinstance(cmd, DualCommand)
    if tensor_form:
        torch.manual_seed(7)
        got = interp.get(interp.eval(f"torch::{name} {interp.put(x)} {args}"))
        torch.manual_seed(7)
        torch.testing.assert_close(got, make()(x), **_tol(dtype))
        named = " ".join(
            f"-{o.name} {{{a}}}" for o, a in zip(cmd.first.positional[1:], interp.tk.splitlist(args))
        )
        if args and "-" not in args:  # the same call in the named form, input last
            torch.manual_seed(7)
            got = interp.get(interp.eval(f"torch::{name} {named} -input {interp.put(x)}"))
            torch.manual_seed(7)
            torch.testing.assert_close(got, make()(x), **_tol(dtype))


def test_return_indices_gives_two_handles(interp):
    x = torch.randn(1, 2, 4, 4)
    handles = interp.tk.splitlist(interp.eval(f"torch::maxpool2d {interp.put(x)} 2 -returnIndices 1"))
    values, indices = (interp.get(h) for h in handles)
    want_v, want_i = F.max_pool2d(x, 2, return_indices=True)
    assert torch.equal(values, want_v) and torch.equal(indices, want_i)


# -- functional convolutions ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    "script, fn, x_shape, w_shape, kwargs",
    [
        ("torch::conv1d $x $w $b 2 1", F.conv1d, (2, 4, 9), (6, 4, 3), {"stride": 2, "padding": 1}),
        (
            "torch::tensor_conv1d $x $w none 1 same 2 2",
            F.conv1d,
            (1, 4, 9),
            (2, 2, 3),
            {"padding": "same", "dilation": 2, "groups": 2, "bias": None},
        ),
        (
            "torch::conv3d -input $x -weight $w -bias $b -stride {1 2 2}",
            F.conv3d,
            (1, 2, 3, 4, 4),
            (3, 2, 1, 2, 2),
            {"stride": (1, 2, 2)},
        ),
        (
            "torch::conv_transpose1d $x $w $b 2 1 1",
            F.conv_transpose1d,
            (1, 4, 5),
            (4, 3, 3),
            {"stride": 2, "padding": 1, "output_padding": 1},
        ),
        (
            "torch::tensor_conv_transpose1d -input $x -weight $w -groups 2 -bias none",
            F.conv_transpose1d,
            (1, 4, 5),
            (4, 1, 3),
            {"groups": 2, "bias": None},
        ),
        (
            "torch::tensor_conv_transpose2d $x $w $b {2 1}",
            F.conv_transpose2d,
            (1, 2, 3, 3),
            (2, 3, 2, 2),
            {"stride": (2, 1)},
        ),
        (
            "torch::conv_transpose_2d $x $w $b 1 0 0 1 2",
            F.conv_transpose2d,
            (1, 2, 4, 4),
            (2, 3, 2, 2),
            {"dilation": 2},
        ),
        (
            "torch::convTranspose3d $x $w",
            F.conv_transpose3d,
            (1, 2, 2, 2, 2),
            (2, 1, 2, 2, 2),
            {"bias": None},
        ),
    ],
)
def test_functional_convolutions(interp, script, fn, x_shape, w_shape, kwargs, dtype):
    x, w = torch.randn(x_shape, dtype=dtype), torch.randn(w_shape, dtype=dtype)
    out_channels = w_shape[0] if fn in (F.conv1d, F.conv3d) else w_shape[1] * kwargs.get("groups", 1)
    b = torch.randn(out_channels, dtype=dtype)
    interp.eval(f"set x {interp.put(x)}; set w {interp.put(w)}; set b {interp.put(b)}")
    got = interp.get(interp.eval(script))
    kwargs = dict(kwargs)
    bias = kwargs.pop("bias", b)
    torch.testing.assert_close(got, fn(x, w, bias, **kwargs), **_tol(dtype))


def test_tensor_unfold_and_fold(interp):
    t = torch.arange(10.0).reshape(2, 5)
    got = interp.get(interp.eval(f"torch::unfold -input {interp.put(t)} -dimension 1 -size 2 -step 2"))
    assert torch.equal(got, t.unfold(1, 2, 2))
    blocks = torch.randn(2, 12, 4)
    got = interp.get(interp.eval(f"torch::fold {interp.put(blocks)} {{3 3}} 2 1 0 1"))
    torch.testing.assert_close(got, F.fold(blocks, (3, 3), 2))


def test_conv2d_set_weights_copies_in_place(interp):
    conv = interp.eval("torch::conv2d 2 3 2")
    module = interp.get(conv)
    w, b = torch.randn(3, 2, 2, 2, dtype=F64), torch.randn(3)
    weight_before = module.weight
    assert (
        interp.eval(f"torch::conv2dSetWeights -layer {conv} -weight {interp.put(w)} -bias {interp.put(b)}")
        == conv
    )
    assert module.weight is weight_before and module.weight.dtype == F32
    torch.testing.assert_close(module.weight.detach(), w.float())
    assert torch.equal(module.bias.detach(), b)
    with pytest.raises(Exception, match=r"must have the layer's weight shape \{3 2 2 2\}, got \{3 2 2\}"):
        interp.eval(f"torch::conv2d_set_weights {conv} {interp.put(torch.zeros(3, 2, 2))}")
    torch.testing.assert_close(module.weight.detach(), w.float())  # unchanged by the failed call
    conv1 = interp.eval("torch::conv1d 1 1 2")
    interp.eval(f"torch::conv2d_set_weights {conv1} {interp.put(torch.ones(1, 1, 2))}")
    assert torch.equal(interp.get(conv1).weight.detach(), torch.ones(1, 1, 2))


# -- reparametrizations ----------------------------------------------------------------------------


def test_spectral_norm_module_and_tensor(interp):
    lin = interp.eval("torch::linear 4 3")
    module = interp.get(lin)
    weight = module.weight.detach().clone()
    assert interp.eval(f"torch::spectral_norm {lin} -nPowerIterations 3") == lin
    assert parametrize.type_before_parametrizations(module) is nn.Linear
    assert module.parametrizations.weight[0].n_power_iterations == 3
    module.eval()
    sigma = torch.linalg.matrix_norm(weight, ord=2)
    torch.testing.assert_close(module.weight, weight / sigma, rtol=1e-2, atol=1e-3)
    m = torch.randn(3, 2, 2, dtype=F64)
    got = interp.get(interp.eval(f"torch::spectralNorm {interp.put(m)}"))
    torch.testing.assert_close(got, m / torch.linalg.matrix_norm(m.reshape(3, -1), ord=2))


def test_weight_norm_keeps_the_weight(interp):
    conv = interp.eval("torch::conv1d 2 3 2")
    module = interp.get(conv)
    weight = module.weight.detach().clone()
    assert interp.eval(f"torch::weight_norm {conv} -dim 0") == conv
    names = interp.tk.splitlist(interp.eval(f"dict keys [torch::layer_parameters {conv} -named 1]"))
    assert "parametrizations.weight.original0" in names
    torch.testing.assert_close(module.weight, weight)
    with pytest.raises(
        Exception, match=r'invalid -name "nosuch": must be a parameter of conv1d\d+ \(it has: bias\)'
    ):
        interp.eval(f"torch::weight_norm {conv} nosuch")


# -- embeddings --------------------------------------------------------------------------------------


def test_embedding_tensor_form_and_bag(interp):
    ids = torch.tensor([[1, 2], [3, 1]])
    w = torch.randn(5, 3)
    got = interp.get(interp.eval(f"torch::embedding {interp.put(ids)} {interp.put(w)} 1"))
    assert torch.equal(got, F.embedding(ids, w, padding_idx=1))
    emb = interp.eval("torch::embedding 5 3")
    assert type(interp.get(emb)) is nn.Embedding
    flat, offsets = torch.tensor([0, 1, 2, 1, 4]), torch.tensor([0, 2])
    for mode, number in (("sum", 0), ("mean", 1), ("max", 2)):
        got = interp.get(
            interp.eval(
                f"torch::embedding_bag {interp.put(flat)} {interp.put(w)} {interp.put(offsets)} {number}"
            )
        )
        torch.testing.assert_close(got, F.embedding_bag(flat, w, offsets, mode=mode))
    psw = torch.rand(5)
    got = interp.get(
        interp.eval(
            f"torch::embeddingBag -input {interp.put(flat)} -weight {interp.put(w)} "
            f"-offsets {interp.put(offsets)} -mode sum -perSampleWeights {interp.put(psw)}"
        )
    )
    torch.testing.assert_close(got, F.embedding_bag(flat, w, offsets, mode="sum", per_sample_weights=psw))
    bag = interp.get(interp.eval("torch::embedding_bag 6 2 max -paddingIdx 0"))
    ref = nn.EmbeddingBag(6, 2, mode="max", padding_idx=0)
    assert repr(bag) == repr(ref)
    ref.load_state_dict(bag.state_dict())
    torch.testing.assert_close(bag(ids), ref(ids))
    sparse = interp.get(interp.eval("torch::sparse_embedding 6 2 0"))
    assert repr(sparse) == repr(nn.Embedding(6, 2, 0, sparse=True))
    sparse(ids).sum().backward()
    assert sparse.weight.grad.is_sparse


def test_gelu_both_forms(interp):
    x = torch.randn(4, dtype=F64)
    got = interp.get(interp.eval(f"torch::gelu {interp.put(x)} tanh"))
    torch.testing.assert_close(got, F.gelu(x, approximate="tanh"))
    got = interp.get(interp.eval(f"torch::gelu -approximate tanh -input {interp.put(x)}"))
    torch.testing.assert_close(got, F.gelu(x, approximate="tanh"))
    assert type(interp.get(interp.eval("torch::gelu tanh"))) is nn.GELU


def test_tensor_forms_keep_the_graph(interp):
    x = torch.randn(2, 3, requires_grad=True)
    y = interp.get(interp.eval(f"torch::mish {interp.put(x)}"))
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


@pytest.mark.parametrize(
    "name, fn, cls",
    [("relu", torch.relu, nn.ReLU), ("sigmoid", torch.sigmoid, nn.Sigmoid), ("tanh", torch.tanh, nn.Tanh)],
)
def test_core_activations_take_a_tensor_too(interp, name, fn, cls):
    x = torch.randn(3, 2, dtype=F64)
    assert torch.equal(interp.get(interp.eval(f"torch::{name} {interp.put(x)}")), fn(x))
    assert torch.equal(interp.get(interp.eval(f"torch::{name} -tensor {interp.put(x)}")), fn(x))
    assert type(interp.get(interp.eval(f"torch::{name}"))) is cls
    with pytest.raises(Exception, match=f'wrong # args: should be "torch::{name} input"'):
        interp.eval(f"torch::{name} {interp.put(x)} 1")
