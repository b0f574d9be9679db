"""Module commands through the Python host, compared with torch computed directly."""

from __future__ import annotations

import pytest
import torch
from helpers import tcl_error, tcl_eval
from torch import nn

import tcltorch
from tcltorch.commands import load_all


def forward(interp, module: str, x: torch.Tensor) -> torch.Tensor:
    return interp.get(tcl_eval(interp, f"torch::layer_forward {module} {interp.put(x)}"))


# -- constructors make the torch module they name ---------------------------------------------


@pytest.mark.parametrize(
    "script, cls, prefix",
    [
        ("torch::linear 3 2", nn.Linear, "linear"),
        ("torch::conv2d 1 2 3", nn.Conv2d, "conv2d"),
        ("torch::relu", nn.ReLU, "relu"),
        ("torch::sigmoid", nn.Sigmoid, "sigmoid"),
        ("torch::tanh", nn.Tanh, "tanh"),
        ("torch::gelu", nn.GELU, "gelu"),
        ("torch::dropout", nn.Dropout, "dropout"),
        ("torch::flatten", nn.Flatten, "flatten"),
        ("torch::layer_norm 4", nn.LayerNorm, "layernorm"),
        ("torch::embedding 5 3", nn.Embedding, "embedding"),
        ("torch::sequential", nn.Sequential, "sequential"),
    ],
)
def test_constructor_kind_and_handle(interp, script, cls, prefix):
    handle = tcl_eval(interp, script)
    assert handle.rstrip("0123456789") == prefix
    assert type(interp.get(handle)) is cls


def test_linear_options_reach_torch(interp):
    lin = interp.get(tcl_eval(interp, "torch::linear -inFeatures 4 -outFeatures 3 -bias 0 -dtype float64"))
    assert (lin.in_features, lin.out_features, lin.bias) == (4, 3, None)
    assert lin.weight.dtype == torch.float64
    assert interp.get(tcl_eval(interp, "torch::linearLayer 2 5")).out_features == 5


def test_linear_forward_is_x_wt_plus_b(interp):
    h = tcl_eval(interp, "torch::linear 4 3")
    lin = interp.get(h)
    x = torch.randn(5, 4)
    torch.testing.assert_close(forward(interp, h, x), x @ lin.weight.T + lin.bias)


def test_conv2d_options_and_forward(interp):
    h = tcl_eval(
        interp,
        "torch::conv2d 4 6 {3 5} {2 1} {1 2} 0 -dilation 2 -groups 2 -paddingMode circular -dtype float64",
    )
    conv = interp.get(h)
    assert conv.kernel_size == (3, 5) and conv.stride == (2, 1) and conv.padding == (1, 2)
    assert conv.dilation == (2, 2) and conv.groups == 2 and conv.bias is None
    assert conv.padding_mode == "circular" and conv.weight.dtype == torch.float64
    x = torch.randn(2, 4, 9, 9, dtype=torch.float64)
    torch.testing.assert_close(forward(interp, h, x), conv(x))
    same = interp.get(tcl_eval(interp, "torch::conv2d 1 1 3 -padding same"))
    assert same.padding == "same"


def test_layer_norm_and_embedding_options(interp):
    ln = interp.get(tcl_eval(interp, "torch::layer_norm {2 3} 1e-3 1 -bias 0"))
    assert ln.normalized_shape == (2, 3) and ln.eps == 1e-3 and ln.bias is None
    assert (
        interp.get(tcl_eval(interp, "torch::layer_norm -normalizedShape 4 -elementwiseAffine 0")).weight
        is None
    )
    x = torch.randn(3, 2, 3)
    torch.testing.assert_close(
        forward(interp, tcl_eval(interp, "torch::layer_norm {2 3}"), x), nn.functional.layer_norm(x, (2, 3))
    )

    emb = interp.get(
        tcl_eval(interp, "torch::embedding 6 4 -1 -maxNorm 2.0 -normType 1.5 -scaleGradByFreq 1")
    )
    assert (emb.padding_idx, emb.max_norm, emb.norm_type, emb.scale_grad_by_freq) == (5, 2.0, 1.5, True)
    h = tcl_eval(interp, "torch::embedding 6 4")
    idx = torch.tensor([[0, 5], [3, 3]])
    torch.testing.assert_close(forward(interp, h, idx), interp.get(h).weight[idx])


@pytest.mark.parametrize(
    "script, fn",
    [
        ("torch::relu", torch.relu),
        ("torch::sigmoid", torch.sigmoid),
        ("torch::tanh", torch.tanh),
        ("torch::gelu", nn.functional.gelu),
        ("torch::gelu -approximate tanh", lambda x: nn.functional.gelu(x, approximate="tanh")),
        ("torch::flatten 0 -1", lambda x: x.flatten()),
        ("torch::flatten -startDim 1 -endDim 2", lambda x: x.flatten(1, 2)),
    ],
)
def test_stateless_module_forward(interp, script, fn):
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(forward(interp, tcl_eval(interp, script), x), fn(x))


def test_dropout_modes(interp):
    d = tcl_eval(interp, "torch::dropout 0.25 0")
    assert interp.get(d).p == 0.25 and interp.get(d).training is False
    x = torch.randn(100)
    torch.testing.assert_close(forward(interp, d, x), x)
    tcl_eval(interp, f"torch::model_train {d}")
    torch.manual_seed(0)
    out = forward(interp, d, x)
    torch.manual_seed(0)
    torch.testing.assert_close(out, nn.functional.dropout(x, 0.25, training=True))


# -- sequential / add_module --------------------------------------------------------------------


def test_seed_example_builds_the_expected_network(interp):
    tcl_eval(
        interp,
        """
        set model [torch::sequential]
        torch::add_module $model [torch::linear 784 256]
        torch::add_module $model [torch::relu]
        torch::add_module $model [torch::linear 256 10]
        """,
    )
    model = interp.get(tcl_eval(interp, "set model"))
    assert [type(m) for m in model] == [nn.Linear, nn.ReLU, nn.Linear]
    assert list(model._modules) == ["0", "1", "2"]
    x = torch.randn(2, 784)
    torch.testing.assert_close(forward(interp, "$model", x), model[2](torch.relu(model[0](x))))


def test_sequential_holds_the_same_objects(interp):
    l1, r, l2 = tcl_eval(interp, "list [torch::linear 2 3] [torch::relu] [torch::linear 3 1]").split()
    seq = interp.get(tcl_eval(interp, f"torch::sequential {l1} [list {r} {l2}]"))
    assert [m is interp.get(h) for m, h in zip(seq, (l1, r, l2))] == [True, True, True]
    named = interp.get(tcl_eval(interp, f"torch::sequential -modules [list {l1} {r}]"))
    assert named[0] is interp.get(l1) and len(named) == 2


def test_add_module_names_and_default_numbering(interp):
    m = tcl_eval(interp, "torch::sequential")
    assert tcl_eval(interp, f"torch::add_module {m} [torch::relu] 1") == m
    tcl_eval(interp, f"torch::add_module {m} [torch::tanh]")  # "1" is taken: next free number
    tcl_eval(interp, f"torch::addModule -model {m} -module [torch::sigmoid] -name out")
    assert list(interp.get(m)._modules) == ["1", "2", "out"]


def test_add_module_refusals_leave_the_model_unchanged(interp):
    m = tcl_eval(interp, "torch::sequential [torch::linear 2 2]")
    before = dict(interp.get(m)._modules)
    for script in (
        f"torch::add_module {m} {m}",
        f"torch::add_module {m} [torch::relu] 0",
        f"torch::add_module {m} [torch::relu] training",
        f"torch::add_module {m} [torch::ones {{2}}]",
        f"torch::add_module {m} [torch::sequential {m}]",
    ):
        message, code = tcl_error(interp, script)
        assert code[:2] in (["TORCH", "VALUE"], ["TORCH", "HANDLE"]), (script, message)
    assert interp.get(m)._modules == before


# -- parameters, modes, counts, layer_to ------------------------------------------------------------


def test_layer_parameters_are_the_module_parameters_with_stable_names(interp):
    m = tcl_eval(interp, "torch::sequential [torch::linear 3 4] [torch::relu] [torch::linear 4 2 0]")
    model = interp.get(m)
    names = tcl_eval(interp, f"torch::layer_parameters {m}").split()
    assert [interp.get(n) for n in names] == list(model.parameters())
    assert all(interp.get(n) is p for n, p in zip(names, model.parameters()))
    assert tcl_eval(interp, f"torch::layerParameters -layer {m}").split() == names
    named = tcl_eval(interp, f"torch::layer_parameters {m} -named 1").split()
    assert named == ["0.weight", names[0], "0.bias", names[1], "2.weight", names[2]]


def test_train_eval_recursive_and_return_model(interp):
    m = tcl_eval(interp, "torch::sequential [torch::dropout] [torch::sequential [torch::dropout]]")
    model = interp.get(m)
    assert tcl_eval(interp, f"torch::model_eval {m}") == m
    assert not any(mod.training for mod in model.modules())
    assert tcl_eval(interp, f"torch::modelTrain -model {m}") == m
    assert all(mod.training for mod in model.modules())


def test_count_parameters_matches_torch(interp):
    m = tcl_eval(interp, "torch::sequential [torch::conv2d 3 8 3] [torch::flatten] [torch::linear 72 10]")
    model = interp.get(m)
    assert int(tcl_eval(interp, f"torch::count_parameters {m}")) == sum(p.numel() for p in model.parameters())
    model[0].weight.requires_grad_(False)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert int(tcl_eval(interp, f"torch::count_parameters {m} -trainableOnly 1")) == trainable
    assert int(tcl_eval(interp, f"torch::countParameters -model {m} -trainableOnly true")) == trainable


def test_layer_to_converts_in_place(interp):
    h = tcl_eval(interp, "torch::linear 2 2")
    lin = interp.get(h)
    weight = lin.weight
    assert tcl_eval(interp, f"torch::layer_to {h} cpu float64") == h
    assert lin.weight is weight and weight.dtype == torch.float64
    assert tcl_eval(interp, f"torch::layerTo -layer {h} -dtype float16") == h
    assert weight.dtype == torch.float16
    _message, code = tcl_error(interp, f"torch::layer_to {h} -dtype int32")
    assert code == ["TORCH", "VALUE", "-dtype"] and weight.dtype == torch.float16


# -- errors ---------------------------------------------------------------------------------------


def test_forward_errors(interp):
    h = tcl_eval(interp, "torch::linear 3 2")
    t = interp.put(torch.ones(2, 3))
    assert tcl_error(interp, f"torch::forward {t} {t}") == (
        f'"{t}" is a tensor, expected a module',
        ["TORCH", "HANDLE", t],
    )
    message, code = tcl_error(interp, f"torch::layer_forward {h} {interp.put(torch.ones(2, 4))}")
    assert code == ["TORCH", "RuntimeError"] and "cannot be multiplied" in message
    assert tcl_error(interp, "torch::layer_forward")[1] == ["TCL", "WRONGARGS"]


@pytest.mark.parametrize(
    "script, errorcode",
    [
        ("torch::linear 3 -2", ["TORCH", "VALUE", "-outFeatures"]),
        ("torch::conv2d 3 3 {1 2 3}", ["TORCH", "VALUE", "-kernelSize"]),
        ("torch::conv2d 3 3 3 -padding weird", ["TORCH", "VALUE", "-padding"]),
        ("torch::dropout -1", ["TORCH", "VALUE", "-p"]),
        ("torch::embedding 4 2 -5", ["TORCH", "VALUE", "-paddingIdx"]),
        ("torch::layer_norm {0}", ["TORCH", "VALUE", "-normalizedShape"]),
        ("torch::gelu -approximate sigmoid", ["TORCH", "VALUE", "-approximate"]),
        ("torch::linear 3 3 -bogus 1", ["TCL", "LOOKUP", "INDEX", "option", "-bogus"]),
        ("torch::embedding 4 -embeddingDim", ["TORCH", "ARGS", "MISSING", "-embeddingDim"]),
        ("torch::layer_to -dtype float64", ["TORCH", "ARGS", "REQUIRED", "-layer"]),
        ("torch::model_eval nosuchmodel", ["TORCH", "HANDLE", "nosuchmodel"]),
    ],
)
def test_error_codes(interp, script, errorcode):
    assert tcl_error(interp, script)[1] == errorcode


def test_every_command_has_its_alias():
    registry = load_all()
    expect = {
        "linear": ["linearLayer"],
        "conv2d": ["conv2dLayer"],
        "layer_norm": ["layerNorm"],
        "add_module": ["addModule"],
        "layer_forward": ["layerForward", "forward"],
        "layer_parameters": ["layerParameters"],
        "model_train": ["modelTrain"],
        "model_eval": ["modelEval"],
        "count_parameters": ["countParameters"],
        "layer_to": ["layerTo"],
    }
    for name, aliases in expect.items():
        assert registry[name].aliases == aliases


def test_tcl_error_class_is_tclerror(interp):
    with pytest.raises(tcltorch.TclError):
        interp.eval("torch::linear")
