"""Model management: model_summary, freeze_model/unfreeze_model, named parameters, buffers and
submodules, and the training/evaluation state of submodules.

Submodules come back as handles (``torch::named_modules``), so every module command works on
part of a model too: ``torch::model_eval``, ``torch::freeze_model``, ``torch::init_*`` ..."""

from __future__ import annotations

from typing import Any

import torch

from tcltorch.commands.nn._vocabulary import FloatDType, _module
from tcltorch.commands.spec import (
    Bool,
    Choice,
    Custom,
    Device,
    Handle,
    Opt,
    command,
)
from tcltorch.errors import TclError
from tcltorch.summary import format_table, summarize

FAMILY = "nn/models"


@command(
    "layer_parameters",
    _module("layer"),
    Opt(
        "named",
        Bool(),
        default=False,
        positional=False,
        help="return a dict name -> handle instead of a list",
    ),
    summary="The parameter tensors of a module, with stable handles.",
)
def layer_parameters(layer, named):
    if named:
        return dict(layer.named_parameters())
    return list(layer.parameters())


@command("model_train", _module(), summary="Put a module and all its children in training mode.")
def model_train(model):
    return model.train()


@command("model_eval", _module(), summary="Put a module and all its children in evaluation mode.")
def model_eval(model):
    return model.eval()


@command(
    "count_parameters",
    _module(),
    Opt("trainableOnly", Bool(), default=False, help="count only parameters that require gradients"),
    summary="The number of scalar parameters of a module.",
)
def count_parameters(model, trainable_only):
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@command(
    "layer_to",
    _module("layer"),
    Opt("device", Device(), default=None, help="target device: cpu, cuda or cuda:N", default_doc="unchanged"),
    Opt("dtype", FloatDType, default=None, help="target floating-point dtype", default_doc="unchanged"),
    summary="Move a module's parameters and buffers to a device and/or dtype, in place.",
)
def layer_to(layer, device, dtype):
    if device is None and dtype is None:
        raise TclError(
            'missing required option "-device" or "-dtype"', ["TORCH", "ARGS", "REQUIRED", "-device"]
        )
    return layer.to(device=device, dtype=dtype)


def _model() -> Opt:
    return Opt("model", Handle("module"), help="module handle", aliases=("module", "layer"))


def _inputs(text: str, option: str, ctx: Any) -> list[torch.Tensor]:
    return [ctx.handles.get(w, "tensor") for w in ctx.split(text, option)]


Inputs = Custom(_inputs, "tensor handle or list", "must be a tensor handle or a list of them")


@command(
    "model_summary",
    _model(),
    Opt(
        "input",
        Inputs,
        default=(),
        help="example input(s) for the output shapes (a handle or a list)",
        aliases=("inputs", "tensor"),
    ),
    Opt(
        "format",
        Choice("table", "dict"),
        default="table",
        positional=False,
        help="table: readable text; dict: the same facts as a Tcl dict",
    ),
    context=True,
    summary="A table of a model's layers, their output shapes for an input, and parameter counts.",
    doc="""A table of a model's layers, their output shapes for an input, and parameter counts.

One row per module in the model's tree (the model first, children indented), with its class, the
shape of its output and its number of parameters (its own and its children's). Output shapes are
recorded by forward hooks during one forward pass on `-input` (several handles for a module with
several inputs); without `-input` the shapes show as `-`. The pass runs without gradients and in
evaluation mode, so it changes nothing (no running statistics, no dropout draws); every
module's mode is restored afterwards. A tuple output shows as `([...], [...])`.

The last lines are the totals, worded as the other implementation's (`Total parameters: N`,
`Trainable parameters: N`, `Non-trainable parameters: N`). `-format dict` returns
`layers {{name N type T depth D shape S params P trainable P} ...} total N trainable N frozen N`
(the model's own row has the empty name; shape is empty when unknown).

The example below prints:

```text
Layer (type)              Output Shape  Param #
===============================================
sequential1 (Sequential)  [3, 2]             58
  0 (Linear)              [3, 8]             40
  1 (ReLU)                [3, 8]              0
  2 (Linear)              [3, 2]             18
===============================================
Total parameters: 58
Trainable parameters: 58
Non-trainable parameters: 0
```

## Return Value

The table as a string (or a dict with `-format dict`).

## See Also

- `torch::count_parameters`
- `torch::named_modules`
- `torch::freeze_model`
""",
    examples=[
        """set model [torch::sequential [torch::linear 4 8] [torch::relu] [torch::linear 8 2]]
puts [torch::model_summary $model [torch::zeros {3 4}]]
set s [torch::modelSummary -model $model -format dict]
puts [dict get $s total]   ;# -> 58"""
    ],
)
def model_summary(model, input, format, ctx):
    info = summarize(model, list(input))
    if format == "dict":
        layers = [
            {
                "name": r["name"],
                "type": r["type"],
                "depth": r["depth"],
                "shape": "" if r["shape"] is None else r["shape"],
                "params": r["params"],
                "trainable": r["trainable"],
            }
            for r in info["layers"]
        ]
        return {
            "layers": layers,
            "total": info["total"],
            "trainable": info["trainable"],
            "frozen": info["frozen"],
        }
    return format_table(info, ctx.handles.name_of(model) or "model")


def _set_requires_grad(model, flag: bool):
    for p in model.parameters():
        p.requires_grad_(flag)
    return model


_FREEZE_DOC = """{summary}

Sets `requires_grad` to {flag} on every parameter of the module and its children{what}. Optimizers skip
parameters without gradients, so {effect}. To {verb} part of a model, pass that part's handle
(from `torch::named_modules`). The other implementation returned a message; this returns the model
handle, as `torch::model_train` does.

## Return Value

The model handle.

## See Also

- `torch::{other}`
- `torch::named_modules`
- `torch::count_parameters`
"""


@command(
    "freeze_model",
    _model(),
    summary="Stop training a module: its parameters no longer require gradients.",
    doc=_FREEZE_DOC.format(
        summary="Stop training a module: its parameters no longer require gradients.",
        flag="false",
        what="",
        effect="a frozen module keeps its values while the rest trains",
        verb="freeze",
        other="unfreeze_model",
    ),
    examples=[
        """set model [torch::sequential [torch::linear 4 8] [torch::linear 8 2]]
torch::freeze_model [dict get [torch::named_modules $model] 0]
puts [torch::count_parameters $model 1]   ;# -> 18
puts [torch::count_parameters $model]     ;# -> 58"""
    ],
)
def freeze_model(model):
    return _set_requires_grad(model, False)


@command(
    "unfreeze_model",
    _model(),
    summary="Train a module again: its parameters require gradients.",
    doc=_FREEZE_DOC.format(
        summary="Train a module again: its parameters require gradients.",
        flag="true",
        what="",
        effect="the optimizer updates them again",
        verb="unfreeze",
        other="freeze_model",
    ),
    examples=[
        """set lin [torch::linear 3 2]
torch::freezeModel $lin
puts [torch::count_parameters $lin 1]   ;# -> 0
torch::unfreezeModel -model $lin
puts [torch::count_parameters $lin 1]   ;# -> 8"""
    ],
)
def unfreeze_model(model):
    return _set_requires_grad(model, True)


def _recurse() -> Opt:
    return Opt(
        "recurse", Bool(), default=True, help="include the children's (dotted names) or only the module's own"
    )


@command(
    "named_parameters",
    _model(),
    _recurse(),
    summary="A dict of a module's parameters: dotted name -> tensor handle.",
    doc="""A dict of a module's parameters: dotted name -> tensor handle.

The names are torch's (`0.weight`, `encoder.layers.1.linear1.bias`, `weight_ih_l0`), the handles
stable: asking twice gives the same names. `torch::layer_parameters $m -named 1` is the same dict.

## Return Value

A Tcl dict name -> tensor handle.

## See Also

- `torch::named_buffers`
- `torch::named_modules`
- `torch::layer_parameters`
""",
    examples=[
        """set model [torch::sequential [torch::linear 2 3] [torch::layer_norm 3]]
puts [dict keys [torch::named_parameters $model]]   ;# -> 0.weight 0.bias 1.weight 1.bias
puts [torch::tensor_shape [dict get [torch::namedParameters $model] 0.weight]]   ;# -> 3 2"""
    ],
)
def named_parameters(model, recurse):
    return dict(model.named_parameters(recurse=recurse))


@command(
    "named_buffers",
    _model(),
    _recurse(),
    summary="A dict of a module's buffers (running statistics, fixed tables): dotted name -> tensor handle.",
    doc="""A dict of a module's buffers (running statistics, fixed tables): dotted name -> tensor handle.

Buffers are the tensors a module keeps that are not trained: a batch norm's running mean and
variance, a positional encoding's table. They are saved with the model and moved by
`torch::layer_to`.

## Return Value

A Tcl dict name -> tensor handle (empty for a module without buffers).

## See Also

- `torch::named_parameters`
- `torch::positional_encoding`
""",
    examples=[
        """set model [torch::sequential [torch::linear 2 4] [torch::positional_encoding 8 4]]
puts [dict keys [torch::named_buffers $model]]   ;# -> 1.pe
puts [dict size [torch::named_buffers [torch::linear 2 2]]]   ;# -> 0"""
    ],
)
def named_buffers(model, recurse):
    return dict(model.named_buffers(recurse=recurse))


@command(
    "named_modules",
    _model(),
    _recurse(),
    summary="A dict of a module's submodules: dotted name -> module handle.",
    doc="""A dict of a module's submodules: dotted name -> module handle.

Every submodule at every depth (`-recurse 0`: the direct children only), by torch's dotted
names, the module itself left out. The handles name the very modules inside the model, so
`torch::model_eval`, `torch::freeze_model`, `torch::init_*` or `torch::layer_forward` on one of
them act on that part of the model.

## Return Value

A Tcl dict name -> module handle.

## See Also

- `torch::model_training`
- `torch::named_parameters`
""",
    examples=[
        """set model [torch::sequential [torch::linear 2 4] [torch::dropout 0.1]]
set parts [torch::named_modules $model]
puts [dict keys $parts]   ;# -> 0 1
puts [string match dropout* [dict get $parts 1]]   ;# -> 1"""
    ],
)
def named_modules(model, recurse):
    if recurse:
        return {name: m for name, m in model.named_modules() if name}
    return dict(model.named_children())


@command(
    "model_training",
    _model(),
    Opt("submodules", Bool(), default=False, help="a dict name -> 1/0 for every submodule instead"),
    summary="Whether a module is in training mode (1) or evaluation mode (0); per submodule on request.",
    doc="""Whether a module is in training mode (1) or evaluation mode (0); per submodule on request.

`torch::model_train` and `torch::model_eval` set the mode of a module and all its children; applied
to a submodule handle (from `torch::named_modules`) they set only that part, and this command shows
the result. With `-submodules 1` it returns a dict dotted name -> 1/0 over every submodule.

## Return Value

1 or 0, or a Tcl dict name -> 1/0.

## See Also

- `torch::model_train`
- `torch::model_eval`
- `torch::named_modules`
""",
    examples=[
        """set model [torch::sequential [torch::linear 2 4] [torch::dropout 0.1]]
torch::model_eval [dict get [torch::named_modules $model] 1]
puts [torch::model_training $model]      ;# -> 1
puts [torch::modelTraining $model 1]     ;# -> 0 1 1 0"""
    ],
)
def model_training(model, submodules):
    if submodules:
        return {name: int(m.training) for name, m in model.named_modules() if name}
    return int(model.training)
