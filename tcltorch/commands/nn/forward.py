"""torch::layer_forward: call a module on one or more tensors, with the options its forward takes.

``torch::layer_forward layer input ?input ...? ?-option value ...?`` returns exactly what
``layer(*inputs, **options)`` returns: a tensor handle, or for tuple results (an RNN's
output and state, attention's output and weights) a Tcl list of handles of the same
nesting.  Each option fills one parameter of the module's ``forward`` (camelCase of its
name); ``-attnMask``, ``-keyPaddingMask`` and ``-isCausal`` also name a transformer's
``src_mask``/``tgt_mask``/``mask``, its padding mask and its causal flag when the forward
has exactly one of them.  The plain ``layer_forward $layer $x`` call skips all of this.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from tcltorch.commands.nn._dual import OptionalTensor
from tcltorch.commands.spec import REGISTRY, Bool, Command, Custom, Handle, Opt, is_option_word
from tcltorch.errors import TclError


def _state(text: str, option: str, ctx: Any) -> Any:
    words = ctx.split(text, option)
    if not words or words == ["none"]:
        return None
    tensors = [ctx.handles.get(w, "tensor") for w in words]
    return tensors[0] if len(tensors) == 1 else tuple(tensors)


State = Custom(
    _state, "tensor handle or list", "must be a tensor handle or a list of them ({h c} for an LSTM)"
)

_TENSOR, _BOOL = OptionalTensor, Bool()

# option, value type, forward parameters it may fill (the one the forward has), help
FORWARD_OPTIONS: list[tuple[str, Any, tuple[str, ...], str]] = [
    ("hx", State, ("hx",), "initial state of a recurrent layer: h_0, or {h_0 c_0} for an LSTM"),
    (
        "attnMask",
        _TENSOR,
        ("attn_mask", "mask", "src_mask", "tgt_mask"),
        "attention mask (bool: true = blocked, or float: added to the scores); also a transformer's own mask",
    ),
    (
        "keyPaddingMask",
        _TENSOR,
        ("key_padding_mask", "src_key_padding_mask", "tgt_key_padding_mask"),
        "[batch, seq] padding mask (true = ignore that key position)",
    ),
    ("needWeights", _BOOL, ("need_weights",), "multihead attention also returns the attention weights"),
    ("averageAttnWeights", _BOOL, ("average_attn_weights",), "average the returned weights over the heads"),
    (
        "isCausal",
        _BOOL,
        ("is_causal", "tgt_is_causal"),
        "the mask given is causal (a hint; give the mask too)",
    ),
    ("srcMask", _TENSOR, ("src_mask",), "a transformer's source self-attention mask"),
    ("mask", _TENSOR, ("mask",), "a transformer encoder stack's attention mask"),
    ("srcKeyPaddingMask", _TENSOR, ("src_key_padding_mask",), "a transformer's source padding mask"),
    ("tgtMask", _TENSOR, ("tgt_mask",), "a transformer decoder's self-attention mask"),
    ("memoryMask", _TENSOR, ("memory_mask",), "a transformer decoder's mask over the memory"),
    ("tgtKeyPaddingMask", _TENSOR, ("tgt_key_padding_mask",), "a transformer decoder's target padding mask"),
    (
        "memoryKeyPaddingMask",
        _TENSOR,
        ("memory_key_padding_mask",),
        "a transformer decoder's memory padding mask",
    ),
    ("srcIsCausal", _BOOL, ("src_is_causal",), "the source mask is causal"),
    ("tgtIsCausal", _BOOL, ("tgt_is_causal",), "the target mask is causal"),
    ("memoryIsCausal", _BOOL, ("memory_is_causal",), "the memory mask is causal"),
]
_TARGETS = {name: targets for name, _, targets, _ in FORWARD_OPTIONS}
_SIGNATURES: dict[type, tuple[tuple[str, ...], bool]] = {}


def _forward_params(module: torch.nn.Module) -> tuple[tuple[str, ...], bool]:
    cls = type(module)
    known = _SIGNATURES.get(cls)
    if known is None:
        try:
            params = inspect.signature(cls.forward).parameters
        except (TypeError, ValueError):
            params = {}
        names = tuple(n for n in params if n != "self")
        any_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        known = _SIGNATURES[cls] = (names, any_kw)
    return known


def _keywords(layer: torch.nn.Module, given: dict[str, Any]) -> dict[str, Any]:
    names, any_kw = _forward_params(layer)
    kwargs: dict[str, Any] = {}
    for option, value in given.items():
        targets = _TARGETS[option]
        hits = [t for t in targets if t in names]
        if not hits and any_kw:
            hits = [targets[0]]
        if len(hits) > 1:
            exact = [t for t in hits if t == targets[0]]
            if exact:
                hits = exact
            else:
                flags = " or ".join(
                    "-" + "".join(w.capitalize() if i else w for i, w in enumerate(h.split("_")))
                    for h in hits
                )
                raise TclError(
                    f'option "-{option}" is ambiguous for {type(layer).__name__}: use {flags}',
                    ["TORCH", "VALUE", "-" + option],
                )
        if not hits:
            cls = type(layer).__name__
            takes = ", ".join(n for n in names if n not in ("args", "kwargs")) or "nothing"
            raise TclError(
                f'option "-{option}" does not apply to {cls}: {cls}.forward takes {takes}',
                ["TORCH", "VALUE", "-" + option],
            )
        if hits[0] in kwargs:
            raise TclError(
                f'option "-{option}" gives {hits[0]} a second time', ["TORCH", "VALUE", "-" + option]
            )
        kwargs[hits[0]] = value
    return kwargs


def layer_forward(layer: torch.nn.Module, input: torch.Tensor, more: tuple = (), **options: Any) -> Any:
    given = {k: v for k, v in options.items() if v is not None}
    if not given:
        return layer(input, *more)
    camel_given = {_CAMEL[k]: v for k, v in given.items()}
    return layer(input, *more, **_keywords(layer, camel_given))


class ForwardCommand(Command):
    """``layer_forward``: the two-handle call takes a short path; everything else the spec's."""

    def parse(self, ctx: Any, args: tuple[str, ...], invoked: str) -> dict[str, Any]:
        if len(args) == 2 and not is_option_word(args[0]) and not is_option_word(args[1]):
            handles = ctx.handles
            return {"layer": handles.get(args[0], "module"), "input": handles.get(args[1], "tensor")}
        kwargs = self._parse_general(ctx, args, invoked)
        inputs = kwargs["input"]  # the first input stays a plain argument (error messages name it)
        kwargs["input"], kwargs["more"] = inputs[0], tuple(inputs[1:])
        return kwargs


_OPTIONS = [
    Opt(
        "layer",
        Handle("module"),
        help="module handle (any layer, activation or sequential)",
        aliases=("model", "module"),
    ),
    Opt(
        "input",
        Handle("tensor"),
        rest=True,
        help="input tensor handle(s), in the forward's order",
        aliases=("tensor",),
    ),
    *[
        Opt(name, vtype, default=None, positional=False, help=help)
        for name, vtype, _, help in FORWARD_OPTIONS
    ],
]
_CAMEL = {o.py_name: o.name for o in _OPTIONS}

_DOC = """Calls the module: `module(input, ...)` in PyTorch, with the options its forward takes.

Works for every module handle: layers, activations, sequential containers, recurrent layers,
attention and transformer layers, and any module made with `torch::nn_module`. Inputs after the
first go to the forward's next parameters in order (`$mha $query $key $value`,
`$decoder $tgt $memory`). Each option fills the forward parameter of its name (camelCase of
torch's: `-hx`, `-keyPaddingMask`, `-needWeights`, `-tgtMask` ...); `-attnMask`,
`-keyPaddingMask` and `-isCausal` also name a transformer layer's own mask, padding mask and causal
flag (`src_mask` or `mask` of an encoder, `tgt_mask` of a decoder) when its forward has exactly one
of them. An option the module's forward does not take is an error naming what it takes.

The result is what the call returns: a tensor handle, or for a tuple a Tcl list of handles with
the same nesting (an LSTM gives `{output {h_n c_n}}`, a GRU or RNN `{output h_n}`, multihead
attention `{output weights}`, with an empty element for a `None`). A returned recurrent state can
be passed straight back as `-hx`. The result tracks gradients, so `torch::tensor_backward` on a
loss computed from it fills the gradients of the module's parameters.

`torch::forward` is a short alias. `-module` and `-model` are accepted for `-layer`, `-tensor`
for `-input`. Shape or dtype mismatches are PyTorch's to report.

## Return Value

A new tensor handle, or a list of handles for modules that return several tensors.

## Errors

| Situation | Message | -errorcode |
|-----------|---------|------------|
| an option the forward does not take | `option "-hx" does not apply to Linear: Linear.forward takes input` | `TORCH VALUE -hx` |
| input of the wrong shape | `mat1 and mat2 shapes cannot be multiplied (2x4 and 3x2)` | `TORCH RuntimeError` |

## See Also

- `torch::layer_parameters`
- `torch::sequential`
- `torch::lstm`
- `torch::multihead_attention`
- `torch::nn_module`
"""

_EXAMPLES = [
    """set layer [torch::linear 3 2]
set x [torch::tensor_create {{1 2 3} {-1 0.5 2}}]
puts [torch::tensor_shape [torch::layer_forward $layer $x]]           ;# -> 2 2
puts [torch::tensor_shape [torch::forward -layer $layer -input $x]]   ;# -> 2 2
# gradients reach the layer's parameters
lassign [torch::layer_parameters $layer] W b
torch::tensor_backward [torch::tensor_sum [torch::layerForward $layer $x]]
puts [torch::tensor_to_list [torch::tensor_grad $b]]                  ;# -> 2.0 2.0""",
    (
        "Several inputs, options, tuple results",
        """set lstm [torch::lstm 3 5]
set seq [torch::ones {4 1 3}]
lassign [torch::layer_forward $lstm $seq] out state
puts [llength $state]                                                 ;# -> 2
lassign [torch::layer_forward $lstm $seq -hx $state] out2 state2
set mha [torch::multihead_attention 6 2]
set q [torch::ones {4 1 6}]
set kv [torch::ones {7 1 6}]
lassign [torch::layer_forward $mha $q $kv $kv -needWeights 1] y w
puts [torch::tensor_shape $w]                                         ;# -> 1 4 7""",
    ),
]

REGISTRY["layer_forward"] = ForwardCommand(
    "layer_forward",
    layer_forward,
    _OPTIONS,
    "Apply a module to its inputs (the module's forward pass); tuple results as lists of handles.",
    None,
    ("forward",),
    doc=_DOC,
    examples=_EXAMPLES,
)
