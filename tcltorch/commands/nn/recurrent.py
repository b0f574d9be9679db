"""Recurrent layers: torch::lstm, torch::gru, torch::rnn_tanh, torch::rnn_relu.

Each builds the torch.nn module (nn.LSTM, nn.GRU, nn.RNN) with torch's options, in
torch's (and the other implementation's) positional order.  ``torch::layer_forward``
returns what calling the module returns: ``{output h_n}`` (GRU, RNN) or
``{output {h_n c_n}}`` (LSTM), and takes an initial state with ``-hx``."""

from __future__ import annotations

import torch
from torch import nn

from tcltorch.commands.nn._vocabulary import FloatDType, check_layer_copies
from tcltorch.commands.spec import Bool, Device, Double, Int, Opt, command
from tcltorch.errors import invalid_value

FAMILY = "nn/recurrent"


def _options(proj: bool = False) -> list[Opt]:
    opts = [
        Opt("inputSize", Int(ge=1), help="features of each input step", aliases=("input_size",)),
        Opt("hiddenSize", Int(ge=1), help="features of the hidden state", aliases=("hidden_size",)),
        Opt("numLayers", Int(ge=1), default=1, help="stacked recurrent layers", aliases=("num_layers",)),
        Opt("bias", Bool(), default=True, help="learn bias weights b_ih and b_hh"),
        Opt(
            "batchFirst",
            Bool(),
            default=False,
            help="inputs and outputs are [batch, seq, feature] instead of [seq, batch, feature]",
            aliases=("batch_first",),
        ),
        Opt(
            "dropout",
            Double(ge=0, le=1),
            default=0.0,
            help="dropout on the outputs of each layer except the last (training mode only)",
        ),
        Opt("bidirectional", Bool(), default=False, help="run a second layer backwards over the sequence"),
    ]
    if proj:
        opts.append(
            Opt(
                "projSize",
                Int(ge=0),
                default=0,
                positional=False,
                help="project the hidden state to this size (0: no projection; < -hiddenSize)",
                aliases=("proj_size",),
            )
        )
    opts.append(Opt("device", Device(), default=None, positional=False, help="device of the parameters"))
    opts.append(
        Opt(
            "dtype", FloatDType, default=None, positional=False, help="floating-point dtype of the parameters"
        )
    )
    return opts


def _check_size(gates, input_size, hidden_size, num_layers, bias, bidirectional, device, dtype) -> None:
    """Refuse a stack whose weights cannot fit in memory before building it (layer by layer)."""
    width = max(input_size, hidden_size * (2 if bidirectional else 1))
    per_layer = gates * hidden_size * (width + hidden_size + (2 if bias else 0))
    itemsize = torch.empty((), dtype=dtype or torch.get_default_dtype()).element_size()
    check_layer_copies("-numLayers", num_layers, per_layer * (2 if bidirectional else 1) * itemsize, device)


def _check(hidden_size: int, num_layers: int, dropout: float, proj_size: int = 0) -> None:
    if dropout > 0 and num_layers == 1:
        raise invalid_value(
            "-dropout", str(dropout), "only applies between layers: needs -numLayers 2 or more"
        )
    if proj_size and proj_size >= hidden_size:
        raise invalid_value("-projSize", str(proj_size), f"must be smaller than -hiddenSize ({hidden_size})")


_SHAPES = """
Inputs are `[seq, batch, inputSize]` (`[batch, seq, inputSize]` with `-batchFirst 1`, or unbatched
`[seq, inputSize]`). `torch::layer_forward $layer $x ?-hx STATE?` returns what calling the module
returns: `output` holds the last layer's hidden state at every step,
`[seq, batch, D*hiddenSize]` with D = 2 when `-bidirectional`, and the final state has shape
`[D*numLayers, batch, hiddenSize]`. The initial state (`-hx`) defaults to zeros.

`-dropout` acts between stacked layers only, so it needs `-numLayers` 2 or more (PyTorch merely
warns; here it is an error). Positional order: torch's and the other implementation's,
`inputSize hiddenSize ?numLayers? ?bias? ?batchFirst? ?dropout? ?bidirectional?`.
"""


_ERRORS = """
## Errors

| Situation | Message | -errorcode |
|-----------|---------|------------|
| dropout with one layer | `invalid -dropout "0.5": only applies between layers: needs -numLayers 2 or more` | `TORCH VALUE -dropout` |
"""


@command(
    "lstm",
    *_options(proj=True),
    summary="A long short-term memory layer, multi-layer and optionally bidirectional (nn.LSTM).",
    doc="""A long short-term memory layer, multi-layer and optionally bidirectional (nn.LSTM).

Each step computes the input, forget, cell and output gates from the input and the previous
hidden state and updates the cell state c and hidden state h (Hochreiter & Schmidhuber, 1997).
"""
    + _SHAPES
    + """
For an LSTM the result of `torch::layer_forward` is `{output {h_n c_n}}`, and `-hx` takes the
pair `{h_0 c_0}` (so a returned state can be passed straight back). `-projSize` gives the LSTM
with projections of Sak et al. (2014): h_n then has `projSize` features.

## Return Value

A module handle (`lstmN`).
"""
    + _ERRORS
    + """
## See Also

- `torch::gru`
- `torch::rnn_tanh`
- `torch::layer_forward`
""",
    examples=[
        """set lstm [torch::lstm -inputSize 3 -hiddenSize 4 -numLayers 2 -batchFirst 1]
set x [torch::ones {2 5 3}]
lassign [torch::layer_forward $lstm $x] out state
puts [torch::tensor_shape $out]   ;# -> 2 5 4
lassign $state h c
puts [torch::tensor_shape $h]     ;# -> 2 2 4
# continue from the final state
lassign [torch::layer_forward $lstm $x -hx $state] out2 state2
puts [llength $state2]            ;# -> 2"""
    ],
)
def lstm(
    input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size, device, dtype
):
    _check(hidden_size, num_layers, dropout, proj_size)
    _check_size(4, input_size, hidden_size, num_layers, bias, bidirectional, device, dtype)
    return nn.LSTM(
        input_size,
        hidden_size,
        num_layers,
        bias=bias,
        batch_first=batch_first,
        dropout=dropout,
        bidirectional=bidirectional,
        proj_size=proj_size,
        device=device,
        dtype=dtype,
    )


@command(
    "gru",
    *_options(),
    extra_aliases=("Gru",),
    summary="A gated recurrent unit layer, multi-layer and optionally bidirectional (nn.GRU).",
    doc="""A gated recurrent unit layer, multi-layer and optionally bidirectional (nn.GRU).

Each step computes reset and update gates from the input and the previous hidden state and
mixes the previous state with a candidate state (Cho et al., 2014).
"""
    + _SHAPES
    + """
The result of `torch::layer_forward` is `{output h_n}`; `-hx` takes `h_0`.

## Return Value

A module handle (`gruN`).
"""
    + _ERRORS
    + """
## See Also

- `torch::lstm`
- `torch::rnn_tanh`
- `torch::layer_forward`
""",
    examples=[
        """set gru [torch::gru 3 4]
set x [torch::ones {5 2 3}]
lassign [torch::layer_forward $gru $x] out h
puts [torch::tensor_shape $out]   ;# -> 5 2 4
puts [torch::tensor_shape $h]     ;# -> 1 2 4
set bi [torch::Gru -inputSize 3 -hiddenSize 4 -bidirectional 1]
puts [torch::tensor_shape [lindex [torch::layer_forward $bi $x] 0]]   ;# -> 5 2 8"""
    ],
)
def gru(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype):
    _check(hidden_size, num_layers, dropout)
    _check_size(3, input_size, hidden_size, num_layers, bias, bidirectional, device, dtype)
    return nn.GRU(
        input_size,
        hidden_size,
        num_layers,
        bias=bias,
        batch_first=batch_first,
        dropout=dropout,
        bidirectional=bidirectional,
        device=device,
        dtype=dtype,
    )


def _rnn(nonlinearity: str):
    def build(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype):
        _check(hidden_size, num_layers, dropout)
        _check_size(1, input_size, hidden_size, num_layers, bias, bidirectional, device, dtype)
        return nn.RNN(
            input_size,
            hidden_size,
            num_layers,
            nonlinearity=nonlinearity,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            device=device,
            dtype=dtype,
        )

    return build


for _name, _nl, _formula in (
    ("rnn_tanh", "tanh", "h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh)"),
    ("rnn_relu", "relu", "h_t = relu(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh)"),
):
    command(
        _name,
        *_options(),
        summary=f"An Elman recurrent layer with {_nl} (nn.RNN with nonlinearity='{_nl}').",
        doc=f"""An Elman recurrent layer with {_nl} (nn.RNN with nonlinearity='{_nl}').

Each step computes `{_formula}`.
"""
        + _SHAPES
        + """
The result of `torch::layer_forward` is `{output h_n}`; `-hx` takes `h_0`.

## Return Value

A module handle (`rnnN`).
"""
        + _ERRORS
        + """
## See Also

- `torch::lstm`
- `torch::gru`
- `torch::layer_forward`
""",
        examples=[
            f"""set rnn [torch::{_name} 2 3 -batchFirst 1]
set x [torch::ones {{4 6 2}}]
lassign [torch::layer_forward $rnn $x] out h
puts [torch::tensor_shape $out]   ;# -> 4 6 3
puts [torch::tensor_shape $h]     ;# -> 1 4 3
# the last output step is the final hidden state
set last [torch::tensor_slice $out 1 5 6]
puts [expr {{[torch::tensor_to_list [torch::tensor_reshape $last {{4 3}}]] eq [torch::tensor_to_list [torch::tensor_reshape $h {{4 3}}]]}}]   ;# -> 1"""
        ],
    )(_rnn(_nl))
