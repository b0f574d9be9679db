"""Recurrent, attention/transformer, init, model-management and generic nn_module commands,
compared with the torch.nn modules and functions they wrap; layer_forward equals the module call."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F
from conftest import ROOT, run_tclsh
from helpers import deep_equal, tcl_error, tcl_eval
from torch import nn

from tcltorch.positional import PositionalEncoding


def obj(interp, script):
    return interp.get(tcl_eval(interp, script))


def read_nested(interp, value):
    """A Tcl result of handles (any nesting) -> the same nesting of Python objects."""
    if value == "":
        return None
    words = interp.tk.splitlist(value)
    if len(words) == 1 and words[0] == value:
        return interp.get(value) if value else None
    return tuple(read_nested(interp, w) for w in words)


# -- recurrent ---------------------------------------------------------------------------------

RNN_CASES = [
    ("torch::lstm 3 4", nn.LSTM, {"input_size": 3, "hidden_size": 4}),
    (
        "torch::lstm -inputSize 3 -hiddenSize 4 -numLayers 2 -bias 0 -batchFirst 1 -dropout 0.25 -bidirectional 1",
        nn.LSTM,
        {
            "input_size": 3,
            "hidden_size": 4,
            "num_layers": 2,
            "bias": False,
            "batch_first": True,
            "dropout": 0.25,
            "bidirectional": True,
        },
    ),
    ("torch::lstm 3 4 -projSize 2", nn.LSTM, {"input_size": 3, "hidden_size": 4, "proj_size": 2}),
    (
        "torch::lstm 3 4 2 1 1 0.5 1",
        nn.LSTM,
        {
            "input_size": 3,
            "hidden_size": 4,
            "num_layers": 2,
            "batch_first": True,
            "dropout": 0.5,
            "bidirectional": True,
        },
    ),
    (
        "torch::gru -input_size 2 -hidden_size 5 -num_layers 3",
        nn.GRU,
        {"input_size": 2, "hidden_size": 5, "num_layers": 3},
    ),
    ("torch::Gru 2 5 1 1 0 0 1", nn.GRU, {"input_size": 2, "hidden_size": 5, "bidirectional": True}),
    ("torch::rnn_tanh 2 3 -batchFirst 1", nn.RNN, {"input_size": 2, "hidden_size": 3, "batch_first": True}),
    (
        "torch::rnnRelu 2 3 2",
        nn.RNN,
        {"input_size": 2, "hidden_size": 3, "num_layers": 2, "nonlinearity": "relu"},
    ),
]
_RNN_ATTRS = (
    "input_size",
    "hidden_size",
    "num_layers",
    "bias",
    "batch_first",
    "dropout",
    "bidirectional",
    "proj_size",
    "mode",
    "nonlinearity",
)


@pytest.mark.parametrize("script, cls, kwargs", RNN_CASES, ids=[c[0] for c in RNN_CASES])
def test_recurrent_layers_are_the_torch_modules(interp, script, cls, kwargs):
    made = obj(interp, script)
    ref = cls(**kwargs)
    assert type(made) is cls
    for attr in _RNN_ATTRS:
        assert getattr(made, attr, None) == getattr(ref, attr, None), attr
    assert {k: v.shape for k, v in made.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("batch_first", [0, 1])
def test_recurrent_forward_is_the_module_call_with_and_without_state(interp, kind, batch_first):
    torch.manual_seed(0)
    h = tcl_eval(
        interp, f"torch::{kind} 3 4 -numLayers 2 -bidirectional 1 -batchFirst {batch_first} -dtype float64"
    )
    m = interp.get(h)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    xh = interp.put(x)
    got = read_nested(interp, tcl_eval(interp, f"torch::layer_forward {h} {xh}"))
    assert deep_equal(got, m(x), strict_sequences=False)
    state = tcl_eval(interp, f"lindex [torch::layer_forward {h} {xh}] 1")
    again = read_nested(interp, tcl_eval(interp, f"torch::layer_forward {h} {xh} -hx {{{state}}}"))
    hx = read_nested(interp, state)
    assert deep_equal(again, m(x, hx), strict_sequences=False)
    assert got[0].shape == (2, 5, 8)
    n_state = (hx[0] if kind == "lstm" else hx).shape
    assert n_state == (4, 5 if batch_first == 0 else 2, 4)


def test_lstm_state_pair_and_gradients(interp):
    h = tcl_eval(interp, "torch::lstm 2 3")
    x = interp.put(torch.randn(4, 1, 2))
    result = tcl_eval(interp, f"torch::layer_forward {h} {x}")
    out, state = interp.tk.splitlist(result)
    assert len(interp.tk.splitlist(state)) == 2
    tcl_eval(interp, f"torch::tensor_backward [torch::tensor_sum {out}]")
    assert all(p.grad is not None for p in interp.get(h).parameters())


def test_recurrent_errors(interp):
    assert tcl_error(interp, "torch::lstm 3 4 -dropout 0.5")[1] == ["TORCH", "VALUE", "-dropout"]
    assert tcl_error(interp, "torch::lstm 3 4 -projSize 4")[1] == ["TORCH", "VALUE", "-projSize"]
    assert tcl_error(interp, "torch::gru 3")[1] == ["TCL", "WRONGARGS"]
    assert tcl_error(interp, "torch::rnn_tanh 0 3")[1] == ["TORCH", "VALUE", "-inputSize"]
    h = tcl_eval(interp, "torch::lstm 3 4")
    x = interp.put(torch.ones(5, 1, 3))
    msg, code = tcl_error(interp, f"torch::layer_forward {h} {x} -isCausal 1")
    assert code == ["TORCH", "VALUE", "-isCausal"] and "LSTM.forward takes input, hx" in msg
    assert tcl_error(interp, f"torch::layer_forward {h} {x} -hx nosuch")[1] == ["TORCH", "HANDLE", "nosuch"]


# -- attention and transformers ----------------------------------------------------------------


def test_multihead_attention_module_and_forward_options(interp):
    torch.manual_seed(1)
    h = tcl_eval(interp, "torch::multihead_attention 8 2 0.0 1 -kdim 6 -vdim 5 -batchFirst 1 -addBiasKv 1")
    m = interp.get(h)
    ref = nn.MultiheadAttention(8, 2, kdim=6, vdim=5, batch_first=True, add_bias_kv=True)
    assert type(m) is nn.MultiheadAttention
    assert (m.embed_dim, m.num_heads, m.kdim, m.vdim, m.batch_first) == (8, 2, 6, 5, True)
    assert {k: v.shape for k, v in m.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }
    q, k, v = torch.randn(2, 3, 8), torch.randn(2, 4, 6), torch.randn(2, 4, 5)
    qh, kh, vh = (interp.put(t) for t in (q, k, v))
    pad = torch.tensor([[False, False, False, True], [False, False, False, False]])
    ph = interp.put(pad)
    got = read_nested(
        interp, tcl_eval(interp, f"torch::layer_forward {h} {qh} {kh} {vh} -keyPaddingMask {ph}")
    )
    assert deep_equal(got, m(q, k, v, key_padding_mask=pad), strict_sequences=False)
    got = read_nested(interp, tcl_eval(interp, f"torch::layer_forward {h} {qh} {kh} {vh} -needWeights 0"))
    assert got[1] is None and torch.equal(got[0], m(q, k, v, need_weights=False)[0])
    got = read_nested(
        interp, tcl_eval(interp, f"torch::layer_forward {h} {qh} {kh} {vh} -averageAttnWeights 0")
    )
    assert deep_equal(got, m(q, k, v, average_attn_weights=False), strict_sequences=False) and got[
        1
    ].shape == (2, 2, 3, 5)


def test_multihead_attention_causal_mask(interp):
    h = tcl_eval(interp, "torch::multihead_attention -embedDim 4 -numHeads 1")
    m = interp.get(h)
    x = torch.randn(5, 2, 4)
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    xh, mh = interp.put(x), interp.put(mask)
    got = read_nested(
        interp, tcl_eval(interp, f"torch::layer_forward {h} {xh} {xh} {xh} -attnMask {mh} -isCausal 1")
    )
    assert deep_equal(got, m(x, x, x, attn_mask=mask, is_causal=True), strict_sequences=False)
    assert torch.all(got[1][:, 0, 1:] == 0)  # position 0 sees only itself


def test_multihead_attention_tensor_form_splits_heads(interp):
    q, k, v = torch.randn(3, 2, 8), torch.randn(4, 2, 8), torch.randn(4, 2, 8)
    got = obj(interp, f"torch::multihead_attention {interp.put(q)} {interp.put(k)} {interp.put(v)} 8 2")

    def heads(t):
        return t.reshape(t.size(0), 2, 2, 4).permute(1, 2, 0, 3)

    want = F.scaled_dot_product_attention(heads(q), heads(k), heads(v)).permute(2, 0, 1, 3).reshape(3, 2, 8)
    assert torch.allclose(got, want, atol=1e-6)
    named = obj(
        interp,
        f"torch::multiheadAttention -query {interp.put(q)} -key {interp.put(k)} "
        f"-value {interp.put(v)} -embedDim 8 -numHeads 2",
    )
    assert torch.equal(named, got)
    assert tcl_error(
        interp, f"torch::multihead_attention {interp.put(q)} {interp.put(k)} {interp.put(v)} 8 3"
    )[1] == ["TORCH", "VALUE", "-numHeads"]


LAYER_CASES = [
    ("torch::transformer_encoder_layer 8 2", nn.TransformerEncoderLayer, {"d_model": 8, "nhead": 2}),
    (
        (
            "torch::transformer_encoder_layer -dModel 8 -nhead 4 -dimFeedforward 16 -dropout 0.0 -activation gelu "
            "-layerNormEps 1e-6 -batchFirst 1 -normFirst 1 -bias 0"
        ),
        nn.TransformerEncoderLayer,
        {
            "d_model": 8,
            "nhead": 4,
            "dim_feedforward": 16,
            "dropout": 0.0,
            "activation": "gelu",
            "layer_norm_eps": 1e-6,
            "batch_first": True,
            "norm_first": True,
            "bias": False,
        },
    ),
    (
        "torch::transformerDecoderLayer 8 2 32 0.2 gelu",
        nn.TransformerDecoderLayer,
        {"d_model": 8, "nhead": 2, "dim_feedforward": 32, "dropout": 0.2, "activation": "gelu"},
    ),
]


@pytest.mark.parametrize("script, cls, kwargs", LAYER_CASES, ids=[c[0][:60] for c in LAYER_CASES])
def test_transformer_layers_are_the_torch_modules(interp, script, cls, kwargs):
    made = obj(interp, script)
    ref = cls(**kwargs)
    assert type(made) is cls
    assert repr(made) == repr(ref)
    assert {k: v.shape for k, v in made.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }
    assert made.norm_first == ref.norm_first and made.self_attn.batch_first == ref.self_attn.batch_first
    assert made.linear1.out_features == ref.linear1.out_features and made.dropout.p == ref.dropout.p


@pytest.mark.parametrize("training", [False, True])
def test_encoder_stack_forward_with_masks(interp, training):
    layer = tcl_eval(interp, "torch::transformer_encoder_layer 8 2 16 0.0 -batchFirst 1")
    enc = tcl_eval(interp, f"torch::transformer_encoder {layer} 2 [torch::layer_norm 8]")
    m = interp.get(enc)
    assert type(m) is nn.TransformerEncoder and len(m.layers) == 2 and m.norm is not None
    m.train(training)
    x = torch.randn(2, 5, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    pad = torch.tensor([[False] * 5, [False, False, False, True, True]])
    xh, mh, ph = interp.put(x), interp.put(mask), interp.put(pad)
    with torch.no_grad():
        want = m(x, mask=mask, src_key_padding_mask=pad, is_causal=True)
    got = obj(
        interp,
        f"torch::no_grad {{torch::layer_forward {enc} {xh} -mask {mh} -srcKeyPaddingMask {ph} -isCausal 1}}",
    )
    assert torch.allclose(got, want, atol=1e-6, equal_nan=True)
    # -attnMask and -keyPaddingMask name the same parameters
    alias = obj(
        interp,
        f"torch::no_grad {{torch::layer_forward {enc} {xh} -attnMask {mh} -keyPaddingMask {ph} -isCausal 1}}",
    )
    assert torch.allclose(alias, want, atol=1e-6, equal_nan=True)
    plain = obj(interp, f"torch::layer_forward {enc} {xh}")
    assert plain.requires_grad and plain.shape == (2, 5, 8)


def test_decoder_layer_and_stack_forward(interp):
    layer = tcl_eval(interp, "torch::transformer_decoder_layer 8 2 16 0.0")
    dec = tcl_eval(interp, f"torch::transformer_decoder -decoderLayer {layer} -numLayers 2")
    for h in (layer, dec):
        m = interp.get(h)
        tgt, memory = torch.randn(4, 2, 8), torch.randn(6, 2, 8)
        mask = nn.Transformer.generate_square_subsequent_mask(4)
        th, mh, kh = interp.put(tgt), interp.put(memory), interp.put(mask)
        got = obj(interp, f"torch::layer_forward {h} {th} {mh} -tgtMask {kh} -tgtIsCausal 1")
        assert torch.equal(got, m(tgt, memory, tgt_mask=mask, tgt_is_causal=True))
        alias = obj(interp, f"torch::layer_forward {h} {th} {mh} -attnMask {kh}")
        assert torch.equal(alias, m(tgt, memory, tgt_mask=mask))
    assert type(interp.get(dec)) is nn.TransformerDecoder


def test_layer_command_rejects_a_tensor_first(interp):
    t = interp.put(torch.ones(2, 4))
    msg, code = tcl_error(interp, f"torch::transformer_encoder_layer {t} 4 2 8 0.1")
    assert code == ["TORCH", "ARGS", "FUNCTIONAL", "torch::transformer_encoder_layer"]
    assert "draw new random weights on every call" in msg and "torch::layer_forward $layer" in msg
    assert tcl_error(interp, "torch::transformer_encoder_layer 8 3")[1] == ["TORCH", "VALUE", "-nhead"]
    lin = tcl_eval(interp, "torch::linear 2 2")
    assert tcl_error(interp, f"torch::transformer_encoder {lin} 2")[1] == ["TORCH", "HANDLE", lin]


def test_ambiguous_and_inapplicable_forward_options(interp):
    tf = tcl_eval(
        interp,
        "torch::nn_module Transformer -dModel 8 -nhead 2 -numEncoderLayers 1 -numDecoderLayers 1 "
        "-dimFeedforward 8 -dropout 0",
    )
    src, tgt = interp.put(torch.randn(3, 1, 8)), interp.put(torch.randn(2, 1, 8))
    mask = interp.put(torch.zeros(2, 2))
    msg, code = tcl_error(interp, f"torch::layer_forward {tf} {src} {tgt} -attnMask {mask}")
    assert code == ["TORCH", "VALUE", "-attnMask"] and "-srcMask or -tgtMask" in msg
    m = interp.get(tf)
    got = obj(interp, f"torch::layer_forward {tf} {src} {tgt} -tgtMask {mask}")
    assert torch.equal(got, m(interp.get(src), interp.get(tgt), tgt_mask=interp.get(mask)))
    lin = tcl_eval(interp, "torch::linear 8 2")
    assert tcl_error(interp, f"torch::layer_forward {lin} {src} -attnMask {mask}")[1] == [
        "TORCH",
        "VALUE",
        "-attnMask",
    ]


def test_positional_encoding_is_the_sinusoid_table(interp):
    h = tcl_eval(interp, "torch::positional_encoding 12 6")
    m = interp.get(h)
    assert isinstance(m, PositionalEncoding) and h.startswith("positionalencoding")
    pe = m.pe
    for pos in (0, 1, 7, 11):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert math.isclose(pe[pos, 2 * i].item(), math.sin(angle), abs_tol=1e-6)
            assert math.isclose(pe[pos, 2 * i + 1].item(), math.cos(angle), abs_tol=1e-6)
    x = torch.randn(5, 2, 6)
    assert torch.equal(obj(interp, f"torch::layer_forward {h} {interp.put(x)}"), x + pe[:5].unsqueeze(1))
    bf = tcl_eval(interp, "torch::positional_encoding -seqLen 12 -dModel 6 -batchFirst 1")
    xb = torch.randn(2, 5, 6)
    assert torch.equal(obj(interp, f"torch::layer_forward {bf} {interp.put(xb)}"), xb + pe[:5].unsqueeze(0))
    odd = interp.get(tcl_eval(interp, "torch::positional_encoding 4 5 0.1 -dtype float64"))
    assert odd.pe.shape == (4, 5) and odd.pe.dtype == torch.float64 and odd.dropout.p == 0.1
    msg, _code = tcl_error(interp, f"torch::layer_forward {h} {interp.put(torch.randn(13, 1, 6))}")
    assert "exceeds max_len 12" in msg
    assert tcl_eval(interp, f"dict keys [torch::named_buffers {h}]") == "pe"
    assert len(list(m.parameters())) == 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scaled_dot_product_attention_matches_torch(interp, dtype):
    torch.manual_seed(3)
    q, k, v = (
        torch.randn(2, 2, 4, 8, dtype=dtype),
        torch.randn(2, 2, 6, 8, dtype=dtype),
        torch.randn(2, 2, 6, 5, dtype=dtype),
    )
    qh, kh, vh = (interp.put(t) for t in (q, k, v))
    got = obj(interp, f"torch::scaled_dot_product_attention {qh} {kh} {vh}")
    assert torch.allclose(got, F.scaled_dot_product_attention(q, k, v), atol=1e-6)
    mask = torch.rand(4, 6) > 0.3
    mask[:, 0] = True
    got = obj(
        interp,
        f"torch::scaledDotProductAttention -query {qh} -key {kh} -value {vh} "
        f"-attnMask {interp.put(mask)} -scale 0.5",
    )
    assert torch.allclose(got, F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.5), atol=1e-6)
    qs = interp.put(q[:, :, :, :])
    got = obj(interp, f"torch::scaled_dot_product_attention {qs} {qs} {qs} -isCausal 1")
    assert torch.allclose(got, F.scaled_dot_product_attention(q, q, q, is_causal=True), atol=1e-6)
    torch.manual_seed(5)
    got = obj(interp, f"torch::scaled_dot_product_attention {qh} {kh} {vh} -dropoutP 0.5")
    torch.manual_seed(5)
    assert torch.allclose(got, F.scaled_dot_product_attention(q, k, v, dropout_p=0.5), atol=1e-6)
    assert tcl_error(
        interp, f"torch::scaled_dot_product_attention {qh} {kh} {vh} -isCausal 1 -attnMask {interp.put(mask)}"
    )[1] == ["TORCH", "VALUE", "-isCausal"]


# -- initialisation ----------------------------------------------------------------------------

INIT_CASES = [
    ("init_xavier_uniform", "", lambda t: nn.init.xavier_uniform_(t)),
    ("init_xavier_uniform", "2.0", lambda t: nn.init.xavier_uniform_(t, gain=2.0)),
    ("init_xavier_normal", "-gain 0.5", lambda t: nn.init.xavier_normal_(t, gain=0.5)),
    ("init_kaiming_uniform", "", lambda t: nn.init.kaiming_uniform_(t)),
    (
        "init_kaiming_uniform",
        "0.1 fan_out relu",
        lambda t: nn.init.kaiming_uniform_(t, 0.1, "fan_out", "relu"),
    ),
    (
        "init_kaiming_normal",
        "-mode fanOut -nonlinearity tanh",
        lambda t: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="tanh"),
    ),
    ("init_orthogonal", "", lambda t: nn.init.orthogonal_(t)),
    ("init_orthogonal", "-gain 3", lambda t: nn.init.orthogonal_(t, gain=3)),
    ("init_normal", "1.0 0.1", lambda t: nn.init.normal_(t, 1.0, 0.1)),
    ("init_uniform", "-a -2 -b 3", lambda t: nn.init.uniform_(t, -2, 3)),
    ("init_constant", "0.25", lambda t: nn.init.constant_(t, 0.25)),
    ("init_zeros", "", lambda t: nn.init.zeros_(t)),
    ("init_ones", "", lambda t: nn.init.ones_(t)),
]


@pytest.mark.parametrize("name, args, fill", INIT_CASES, ids=[f"{c[0]} {c[1]}" for c in INIT_CASES])
@pytest.mark.parametrize("shape, dtype", [((4, 6), torch.float32), ((3, 2, 5), torch.float64)])
def test_init_on_a_tensor_equals_torch_seeded(interp, name, args, fill, shape, dtype):
    t = torch.zeros(shape, dtype=dtype)
    h = interp.put(t)
    tcl_eval(interp, "torch::manual_seed 42")
    assert tcl_eval(interp, f"torch::{name} {h} {args}") == h
    want = torch.zeros(shape, dtype=dtype)
    torch.manual_seed(42)
    fill(want)
    assert torch.equal(t, want)


def test_init_on_a_module_fills_its_weights(interp):
    model = tcl_eval(interp, "torch::sequential [torch::linear 3 4] [torch::layer_norm 4] [torch::lstm 4 2]")
    m = interp.get(model)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    tcl_eval(interp, f"torch::manual_seed 7; torch::init_xavier_uniform {model}")
    ref = [
        torch.zeros_like(p)
        for n, p in m.named_parameters()
        if "weight" in n.rsplit(".", 1)[-1] and p.dim() >= 2
    ]
    torch.manual_seed(7)
    for t in ref:
        nn.init.xavier_uniform_(t)
    chosen = [p for n, p in m.named_parameters() if "weight" in n.rsplit(".", 1)[-1] and p.dim() >= 2]
    assert len(chosen) == 3 and all(torch.equal(a, b) for a, b in zip(chosen, ref))
    after = m.state_dict()
    assert torch.equal(after["1.weight"], before["1.weight"])  # 1-d layer-norm scale skipped
    assert torch.equal(after["0.bias"], before["0.bias"])
    tcl_eval(interp, f"torch::init_zeros {model} -params biases")
    assert all(torch.count_nonzero(p) == 0 for n, p in m.named_parameters() if "bias" in n)
    tcl_eval(interp, f"torch::init_constant {model} 2 -params all")
    assert all(torch.all(p == 2) for p in m.parameters())
    assert all(p.is_leaf and p.requires_grad for p in m.parameters())


def test_init_errors(interp):
    no_bias = tcl_eval(interp, "torch::linear 2 2 -bias 0")
    assert tcl_error(interp, f"torch::init_zeros {no_bias} -params biases")[1] == [
        "TORCH",
        "VALUE",
        "-params",
    ]
    assert tcl_error(interp, f"torch::init_xavier_uniform {interp.put(torch.zeros(3))}")[1] == [
        "TORCH",
        "VALUE",
        "-tensor",
    ]
    assert tcl_error(interp, f"torch::init_ones {interp.put(torch.zeros(3, dtype=torch.int64))}")[1] == [
        "TORCH",
        "VALUE",
        "-tensor",
    ]
    assert tcl_error(interp, f"torch::init_kaiming_normal {interp.put(torch.zeros(2, 2))} -mode sideways")[
        1
    ] == [
        "TORCH",
        "VALUE",
        "-mode",
    ]
    assert tcl_error(interp, "torch::init_normal nosuch")[1] == ["TORCH", "HANDLE", "nosuch"]


# -- model management --------------------------------------------------------------------------


def test_model_summary_table_and_dict(interp):
    model = tcl_eval(interp, "torch::sequential [torch::linear 4 8] [torch::relu] [torch::lstm 8 3]")
    x = interp.put(torch.zeros(5, 2, 4))
    table = tcl_eval(interp, f"torch::model_summary {model} {x}")
    assert re.search(r"^sequential\d+ \(Sequential\)", table.splitlines()[2])
    assert "0 (Linear)" in table and "[5, 2, 8]" in table and "([5, 2, 3], ([1, 2, 3], [1, 2, 3]))" in table
    total = sum(p.numel() for p in interp.get(model).parameters())
    assert f"Total parameters: {total:,}" in table and "Non-trainable parameters: 0" in table
    tcl_eval(interp, f"torch::freeze_model [dict get [torch::named_modules {model}] 0]")
    info = interp.tk.splitlist(
        tcl_eval(interp, f"torch::model_summary -model {model} -input {x} -format dict")
    )
    d = dict(zip(info[::2], info[1::2]))
    assert int(d["total"]) == total and int(d["frozen"]) == 40 and int(d["trainable"]) == total - 40
    rows = [dict(zip(*[iter(interp.tk.splitlist(r))] * 2)) for r in interp.tk.splitlist(d["layers"])]
    assert [r["name"] for r in rows] == ["", "0", "1", "2"] and rows[1]["shape"] == "5 2 8"
    assert tcl_eval(interp, f"torch::model_summary {model}").count(" -") >= 4  # no input: no shapes


def test_model_summary_changes_nothing(interp):
    model = tcl_eval(interp, "torch::sequential [torch::nn_module BatchNorm1d 3] [torch::dropout 0.5]")
    m = interp.get(model)
    m[1].eval()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    tcl_eval(interp, f"torch::model_summary {model} {interp.put(torch.randn(4, 3))}")
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    assert m.training and m[0].training and not m[1].training


def test_freeze_unfreeze_named_and_training_state(interp):
    model = tcl_eval(
        interp, "torch::sequential [torch::linear 2 3] [torch::dropout] [torch::positional_encoding 4 3]"
    )
    m = interp.get(model)
    assert tcl_eval(interp, f"torch::freeze_model {model}") == model
    assert not any(p.requires_grad for p in m.parameters())
    assert tcl_eval(interp, f"torch::unfreezeModel -model {model}") == model
    assert all(p.requires_grad for p in m.parameters())
    params = dict(zip(*[iter(interp.tk.splitlist(tcl_eval(interp, f"torch::named_parameters {model}")))] * 2))
    assert list(params) == ["0.weight", "0.bias"] and interp.get(params["0.weight"]) is m[0].weight
    assert tcl_eval(interp, f"torch::named_parameters {model}") == tcl_eval(
        interp, f"torch::named_parameters {model}"
    )
    assert tcl_eval(interp, f"torch::named_parameters {model} 0") == ""
    buffers = dict(zip(*[iter(interp.tk.splitlist(tcl_eval(interp, f"torch::named_buffers {model}")))] * 2))
    assert list(buffers) == ["2.pe"] and interp.get(buffers["2.pe"]) is m[2].pe
    mods = dict(zip(*[iter(interp.tk.splitlist(tcl_eval(interp, f"torch::named_modules {model}")))] * 2))
    assert list(mods) == ["0", "1", "2", "2.dropout"] and interp.get(mods["1"]) is m[1]
    assert tcl_eval(interp, f"dict keys [torch::named_modules {model} -recurse 0]") == "0 1 2"
    tcl_eval(interp, f"torch::model_eval {mods['1']}")
    assert tcl_eval(interp, f"torch::model_training {model}") == "1"
    assert tcl_eval(interp, f"torch::model_training {model} -submodules 1") == "0 1 1 0 2 1 2.dropout 1"


# -- nn_module ---------------------------------------------------------------------------------

NN_MODULE_CASES = [
    ("Linear 4 2 -bias 0", nn.Linear(4, 2, bias=False)),
    ("Bilinear -in1Features 3 -in2Features 4 -outFeatures 2", nn.Bilinear(3, 4, 2)),
    (
        "Conv1d 2 3 3 -padding same -paddingMode reflect",
        nn.Conv1d(2, 3, 3, padding="same", padding_mode="reflect"),
    ),
    ("MaxPool2d {2 2} -stride 1 -ceilMode true", nn.MaxPool2d((2, 2), stride=1, ceil_mode=True)),
    ("LSTM 3 4 2 -batchFirst yes -bidirectional 1", nn.LSTM(3, 4, 2, batch_first=True, bidirectional=True)),
    ("RNN 3 4 -nonlinearity relu", nn.RNN(3, 4, nonlinearity="relu")),
    ("GELU -approximate tanh", nn.GELU(approximate="tanh")),
    (
        "CrossEntropyLoss -labelSmoothing 0.1 -reduction sum",
        nn.CrossEntropyLoss(label_smoothing=0.1, reduction="sum"),
    ),
    ("Embedding 10 3 -paddingIdx 0 -maxNorm 1", nn.Embedding(10, 3, padding_idx=0, max_norm=1.0)),
    (
        "LayerNorm {4 5} -eps 1e-3 -elementwise_affine 0",
        nn.LayerNorm((4, 5), eps=1e-3, elementwise_affine=False),
    ),
    ("Dropout 0.3", nn.Dropout(0.3)),
    ("Identity", nn.Identity()),
    ("flatten 0 -1", nn.Flatten(0, -1)),
    (
        "Transformer -dModel 8 -nhead 2 -numEncoderLayers 1 -numDecoderLayers 1 -dimFeedforward 16",
        nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16),
    ),
    ("Upsample -scaleFactor 2 -mode bilinear", nn.Upsample(scale_factor=2, mode="bilinear")),
]


@pytest.mark.parametrize("words, ref", NN_MODULE_CASES, ids=[c[0][:40] for c in NN_MODULE_CASES])
def test_nn_module_builds_the_class_with_the_options(interp, words, ref):
    made = obj(interp, f"torch::nn_module {words}")
    assert type(made) is type(ref)
    assert repr(made) == repr(ref)
    assert {k: v.shape for k, v in made.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }
    for attr in ("nonlinearity", "label_smoothing", "reduction", "max_norm", "padding_mode", "eps"):
        assert getattr(made, attr, None) == getattr(ref, attr, None)


def test_nn_module_handles_and_containers(interp):
    a, b = tcl_eval(interp, "torch::linear 2 3"), tcl_eval(interp, "torch::relu")
    seq = obj(interp, f"torch::nn_module Sequential {a} {b}")
    assert isinstance(seq, nn.Sequential) and seq[0] is interp.get(a) and seq[1] is interp.get(b)
    layer = tcl_eval(interp, "torch::transformer_encoder_layer 8 2 16")
    enc = obj(
        interp, f"torch::nnModule TransformerEncoder -encoderLayer {layer} -numLayers 2 -enableNestedTensor 0"
    )
    assert isinstance(enc, nn.TransformerEncoder) and enc.num_layers == 2
    w = interp.put(torch.tensor([1.0, 2.0]))
    loss = obj(interp, f"torch::nn_module CrossEntropyLoss -weight {w}")
    assert torch.equal(loss.weight, interp.get(w))
    ml = obj(interp, f"torch::nn_module ModuleList [list {a} {b}]")
    assert isinstance(ml, nn.ModuleList) and len(ml) == 2
    md = obj(interp, f"torch::nn_module ModuleDict [dict create enc {a} act {b}]")
    assert isinstance(md, nn.ModuleDict) and md["enc"] is interp.get(a) and list(md) == ["enc", "act"]
    assert tcl_error(interp, "torch::nn_module ModuleDict {a}")[1] == ["TORCH", "VALUE", "-modules"]
    assert isinstance(obj(interp, "torch::nn_module lstm 2 2"), nn.LSTM)  # case-insensitive match
    assert obj(interp, "torch::nn_module Linear 2 2 -dtype float64").weight.dtype == torch.float64


@pytest.mark.parametrize(
    "words, errorcode, fragment",
    [
        ("Lienar 2 2", ["TORCH", "VALUE", "-className"], "did you mean Linear"),
        ("NoSuchThing", ["TORCH", "VALUE", "-className"], "unknown torch.nn class"),
        ("Linear 2", ["TCL", "WRONGARGS"], 'should be "torch::nn_module Linear inFeatures outFeatures'),
        ("Linear 2 2 -bogus 1", ["TCL", "LOOKUP", "INDEX", "option", "-bogus"], "-inFeatures, -outFeatures"),
        ("Linear 2 x", ["TORCH", "VALUE", "-outFeatures"], "must be an integer"),
        ("Linear 2 2.5", ["TORCH", "VALUE", "-outFeatures"], "must be an integer"),
        ("Linear 2 2 -bias maybe", ["TORCH", "VALUE", "-bias"], "must be a boolean"),
        ("Dropout abc", ["TORCH", "VALUE", "-p"], "must be a number"),
        ("Linear 2 2 -device nowhere", ["TORCH", "VALUE", "-device"], "device"),
        ("", ["TCL", "WRONGARGS"], "torch::nn_module className"),
    ],
)
def test_nn_module_errors(interp, words, errorcode, fragment):
    msg, code = tcl_error(interp, f"torch::nn_module {words}")
    assert code == errorcode and fragment in msg
    assert tcl_eval(interp, "torch::handles module") == ""


def test_layer_forward_single_input_is_unchanged(interp):
    lin = tcl_eval(interp, "torch::linear 3 2")
    x = torch.randn(4, 3)
    xh = interp.put(x)
    assert torch.equal(obj(interp, f"torch::layer_forward {lin} {xh}"), interp.get(lin)(x))
    assert torch.equal(obj(interp, f"torch::forward -layer {lin} -input {xh}"), interp.get(lin)(x))
    assert tcl_error(interp, f"torch::layer_forward {lin}")[0] == (
        'wrong # args: should be "torch::layer_forward layer input ?input ...? ?-option value ...?"'
    )


# -- examples ----------------------------------------------------------------------------------


def _losses(output):
    return [float(v) for v in re.findall(r"loss (\S+)", output)]


@pytest.mark.parametrize(
    "example, args",
    [
        ("lstm_classifier.tcl", ["-steps", "40", "-hidden", "8"]),
        (
            "transformer_lm_tiny.tcl",
            ["-steps", "60", "-dmodel", "16", "-context", "16", "-lr", "0.01", "-sample", "20"],
        ),
    ],
)
def test_examples_train_with_a_real_tclsh(example, args):
    script = (ROOT / "examples" / example).read_text(encoding="utf-8")
    result = run_tclsh(script, *args, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    losses = _losses(result.stdout)
    assert len(losses) >= 3, result.stdout
    assert losses[-1] < 0.8 * losses[0], result.stdout
