"""Parameter initialisation (torch.nn.init) on a tensor or on every weight of a module.

``torch::init_NAME target ?options?`` fills ``target`` in place and returns it.  A tensor
handle is filled whole; a module handle has the parameters chosen by ``-params`` filled:
``weights`` (default) are the parameters whose name contains "weight" (weight,
weight_ih_l0, in_proj_weight ...), ``biases`` those whose name contains "bias", ``all``
every parameter.  The fan-based inits (xavier, kaiming, orthogonal) need two or more
dimensions and skip 1-d parameters (a layer norm's scale).  Draws come from torch's global
generator, so ``torch::manual_seed`` makes them repeatable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from tcltorch.commands.spec import Choice, Custom, Double, Opt, command
from tcltorch.errors import TclError, invalid_value

FAMILY = "nn/init"


def _target(text: str, option: str, ctx: Any) -> Any:
    obj = ctx.handles.get(text.strip())
    if not isinstance(obj, (torch.Tensor, nn.Module)):
        raise TclError(f'"{text}" is not a tensor or a module', ["TORCH", "HANDLE", text])
    return obj


Target = Custom(_target, "tensor or module handle", "must be a tensor or module handle")


def _target_opt() -> Opt:
    return Opt(
        "tensor",
        Target,
        help="tensor or module handle to fill in place",
        aliases=("target", "module", "model", "layer", "input"),
    )


def _params_opt() -> Opt:
    return Opt(
        "params",
        Choice("weights", "biases", "all"),
        default="weights",
        positional=False,
        help="with a module: which parameters (names containing weight, bias, or all)",
        aliases=("which",),
    )


def _selected(module: nn.Module, which: str, fan_based: bool, ctx: Any) -> list[torch.Tensor]:
    chosen = []
    for pname, p in module.named_parameters():
        last = pname.rsplit(".", 1)[-1]
        if which == "weights" and "weight" not in last:
            continue
        if which == "biases" and "bias" not in last:
            continue
        if fan_based and p.dim() < 2:
            continue
        chosen.append(p)
    if not chosen:
        what = {"weights": "weight", "biases": "bias", "all": ""}[which]
        need = " of two or more dimensions" if fan_based else ""
        raise invalid_value(
            "-params",
            which,
            f"{ctx.handles.name_of(module) or 'the module'} has no {what} parameter{need}".replace(
                "no  parameter", "no parameter"
            ),
        )
    return chosen


def _apply(
    target: Any, which: str, fan_based: bool, ctx: Any, name: str, fill: Callable[[torch.Tensor], Any]
) -> Any:
    if isinstance(target, nn.Module):
        tensors = _selected(target, which, fan_based, ctx)
    else:
        if fan_based and target.dim() < 2:
            raise invalid_value(
                "-tensor",
                ctx.handles.name_of(target) or "tensor",
                f"must have two or more dimensions for {name}, not {target.dim()}",
            )
        if not target.is_floating_point():
            raise invalid_value(
                "-tensor",
                ctx.handles.name_of(target) or "tensor",
                f"must be a floating-point tensor, not {str(target.dtype).replace('torch.', '')}",
            )
        tensors = [target]
    for t in tensors:
        fill(t)
    return target


_NONLINEARITIES = (
    "leaky_relu",
    "relu",
    "linear",
    "sigmoid",
    "tanh",
    "selu",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


_SEE = """
## See Also

- `torch::manual_seed`
- `torch::layer_parameters`
- `torch::named_parameters`
"""


def _doc(first: str, body: str) -> str:
    return f"""{first}

{body}

The target is filled in place (under no_grad, so a parameter stays a leaf). With a tensor handle the
whole tensor is filled. With a module handle `-params` chooses its parameters: `weights` (the
default: every parameter whose name contains "weight", such as `weight`, `weight_ih_l0`,
`in_proj_weight`), `biases` (names containing "bias") or `all`.{{fan}} Random draws use torch's global
generator: `torch::manual_seed` makes them repeatable.

## Return Value

The target handle (the same tensor or module).

## Errors

| Situation | Message | -errorcode |
|-----------|---------|------------|
| a module with nothing to fill | `invalid -params "biases": linear1 has no bias parameter` | `TORCH VALUE -params` |
| an integer tensor | `invalid -tensor "tensor1": must be a floating-point tensor, not int64` | `TORCH VALUE -tensor` |
{_SEE}"""


_FAN_NOTE = (
    " This init needs two or more dimensions (fan in and fan out), so 1-d parameters of a module"
    " (a layer norm's scale) are skipped and a 1-d tensor is an error."
)


def _init_command(
    name: str,
    options: list[Opt],
    fill: Callable[..., Any],
    fan_based: bool,
    summary: str,
    body: str,
    example: str,
) -> None:
    def fn(tensor, params, ctx, **kw):
        return _apply(tensor, params, fan_based, ctx, name, lambda t: fill(t, **kw))

    doc = _doc(summary, body).replace("{fan}", _FAN_NOTE if fan_based else "")
    command(
        name,
        _target_opt(),
        *options,
        _params_opt(),
        context=True,
        summary=summary,
        doc=doc,
        examples=[example],
    )(fn)


_GAIN = Opt("gain", Double(), default=1.0, help="scaling factor (see torch.nn.init.calculate_gain)")


def _kaiming_opts() -> list[Opt]:
    return [
        Opt("a", Double(), default=0.0, help="negative slope of the rectifier after this layer (leaky_relu)"),
        Opt(
            "mode",
            Choice("fan_in", "fan_out", "fanIn", "fanOut"),
            default="fan_in",
            help="keep the variance of the forward (fan_in) or backward (fan_out) pass",
        ),
        Opt(
            "nonlinearity",
            Choice(*_NONLINEARITIES),
            default="leaky_relu",
            help="activation the gain is computed for",
        ),
    ]


def _kaiming(fill):
    def run(t, a, mode, nonlinearity):
        return fill(
            t, a=a, mode={"fanIn": "fan_in", "fanOut": "fan_out"}.get(mode, mode), nonlinearity=nonlinearity
        )

    return run


_SEEDED = "torch::manual_seed 0\n"


_init_command(
    "init_xavier_uniform",
    [_GAIN],
    lambda t, gain: nn.init.xavier_uniform_(t, gain=gain),
    True,
    "Fill with Glorot/Xavier uniform values (nn.init.xavier_uniform_).",
    "Values from U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010).",
    _SEEDED
    + """set lin [torch::linear 4 3]
torch::init_xavier_uniform $lin
set W [torch::layer_parameters -layer $lin -named 1]
puts [expr {[torch::tensor_item [torch::tensor_max [torch::tensor_abs [dict get $W weight]]]] <= sqrt(6.0/7)}]   ;# -> 1
set t [torch::zeros {2 2}]
puts [expr {[torch::initXavierUniform $t 2.0] eq $t}]   ;# -> 1""",
)


_init_command(
    "init_xavier_normal",
    [_GAIN],
    lambda t, gain: nn.init.xavier_normal_(t, gain=gain),
    True,
    "Fill with Glorot/Xavier normal values (nn.init.xavier_normal_).",
    "Values from N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio, 2010).",
    _SEEDED
    + """set t [torch::init_xavier_normal [torch::zeros {200 300}]]
puts [format %.2f [torch::tensor_item [torch::tensor_mean [torch::tensor_mul $t $t]]]]   ;# -> 0.00""",
)


_init_command(
    "init_kaiming_uniform",
    _kaiming_opts(),
    _kaiming(nn.init.kaiming_uniform_),
    True,
    "Fill with He/Kaiming uniform values (nn.init.kaiming_uniform_).",
    "Values from U(-b, b) with b = gain * sqrt(3 / fan), fan = fan_in or fan_out by `-mode`, gain from\n"
    "`-nonlinearity` and `-a` (He et al., 2015). Positional order is torch's: `tensor ?a? ?mode? ?nonlinearity?`.",
    _SEEDED
    + """set t [torch::init_kaiming_uniform [torch::zeros {3 6}] -nonlinearity relu]
puts [expr {[torch::tensor_item [torch::tensor_max [torch::tensor_abs $t]]] <= 1.0}]   ;# -> 1""",
)


_init_command(
    "init_kaiming_normal",
    _kaiming_opts(),
    _kaiming(nn.init.kaiming_normal_),
    True,
    "Fill with He/Kaiming normal values (nn.init.kaiming_normal_).",
    "Values from N(0, std^2) with std = gain / sqrt(fan), fan = fan_in or fan_out by `-mode`, gain from\n"
    "`-nonlinearity` and `-a` (He et al., 2015). Positional order is torch's: `tensor ?a? ?mode? ?nonlinearity?`.",
    _SEEDED
    + """set conv [torch::conv2d 1 4 3]
puts [expr {[torch::init_kaiming_normal $conv -mode fan_out -nonlinearity relu] eq $conv}]   ;# -> 1""",
)


_init_command(
    "init_orthogonal",
    [_GAIN],
    lambda t, gain: nn.init.orthogonal_(t, gain=gain),
    True,
    "Fill with a (semi-)orthogonal matrix (nn.init.orthogonal_).",
    "The tensor, flattened to rows x (everything else), becomes a semi-orthogonal matrix times `gain`\n"
    "(Saxe et al., 2013); a common choice for recurrent weights.",
    _SEEDED
    + """set q [torch::init_orthogonal [torch::zeros {3 3}]]
puts [format %.4f [torch::tensor_item [torch::tensor_sum [torch::tensor_mul $q $q]]]]   ;# -> 3.0000""",
)


_init_command(
    "init_normal",
    [
        Opt("mean", Double(), default=0.0, help="mean"),
        Opt("std", Double(ge=0), default=1.0, help="standard deviation"),
    ],
    lambda t, mean, std: nn.init.normal_(t, mean=mean, std=std),
    False,
    "Fill with values from N(mean, std^2) (nn.init.normal_).",
    "Independent normal draws.",
    _SEEDED
    + """set emb [torch::embedding 10 4]
torch::init_normal $emb 0.0 0.02
set W [lindex [torch::layer_parameters $emb] 0]
puts [expr {[torch::tensor_item [torch::tensor_max [torch::tensor_abs $W]]] < 0.2}]   ;# -> 1""",
)


_init_command(
    "init_uniform",
    [
        Opt("a", Double(), default=0.0, help="lower bound", aliases=("low",)),
        Opt("b", Double(), default=1.0, help="upper bound", aliases=("high",)),
    ],
    lambda t, a, b: nn.init.uniform_(t, a=a, b=b),
    False,
    "Fill with values from U(a, b) (nn.init.uniform_).",
    "Independent uniform draws; `-a` must not exceed `-b`.",
    _SEEDED
    + """set t [torch::init_uniform [torch::zeros {1000}] -1 1]
puts [expr {[torch::tensor_item [torch::tensor_min $t]] >= -1 && [torch::tensor_item [torch::tensor_max $t]] <= 1}]   ;# -> 1""",
)


_init_command(
    "init_constant",
    [Opt("val", Double(), help="the value", aliases=("value",))],
    lambda t, val: nn.init.constant_(t, val),
    False,
    "Fill with one value (nn.init.constant_).",
    "Every element becomes `val`.",
    """set lin [torch::linear 2 2]
torch::init_constant $lin 0.5 -params biases
puts [torch::tensor_to_list [dict get [torch::named_parameters $lin] bias]]   ;# -> 0.5 0.5""",
)


_init_command(
    "init_zeros",
    [],
    lambda t: nn.init.zeros_(t),
    False,
    "Fill with zeros (nn.init.zeros_).",
    "Every element becomes 0.",
    """set lin [torch::linear 2 2]
torch::init_zeros $lin -params all
puts [torch::tensor_to_list [dict get [torch::named_parameters $lin] weight]]   ;# -> {0.0 0.0} {0.0 0.0}""",
)


_init_command(
    "init_ones",
    [],
    lambda t: nn.init.ones_(t),
    False,
    "Fill with ones (nn.init.ones_).",
    "Every element becomes 1.",
    """puts [torch::tensor_to_list [torch::init_ones [torch::zeros {3}]]]   ;# -> 1.0 1.0 1.0""",
)
