"""Autograd: grad modes (as scripts or global switches) and the functional autograd
family (grad, jacobian, hessian, vjp, jvp, vmap, functional_call, gradient checks).

A *function* here is a Tcl command prefix (a proc name, or a list such as
``{apply {{x} {...}}}``) that is called with tensor handles appended and returns a
tensor handle (or a list of them).  Handles it creates are freed after each call;
the tensors themselves live on inside torch's autograd graph as long as needed."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch

from tcltorch.commands.runtime.core import scoped_eval
from tcltorch.commands.spec import (
    Bool,
    Custom,
    Double,
    Handle,
    HandleList,
    Int,
    Opt,
    Script,
    Str,
    command,
    parse_tcl_int,
)
from tcltorch.commands.vocabulary import _input, _shape_text
from tcltorch.errors import TclError, invalid_value

FAMILY = "runtime/autograd"


@command(
    "tensor_backward",
    _input("tensor to differentiate (a one-element tensor, or give -gradient)"),
    Opt(
        "gradient",
        Handle("tensor"),
        default=None,
        help="gradient of the output, same shape as the tensor",
        default_doc="none (one-element tensors only)",
    ),
    Opt("retainGraph", Bool(), default=False, positional=False, help="keep the graph for another backward"),
    Opt(
        "createGraph",
        Bool(),
        default=False,
        positional=False,
        help="record the backward pass (higher-order gradients)",
    ),
    context=True,
    summary="Compute gradients of a tensor with respect to the leaves it depends on.",
)
def tensor_backward(input, gradient, retain_graph, create_graph, ctx):
    try:
        input.backward(gradient, retain_graph=retain_graph or None, create_graph=create_graph)
    except RuntimeError:
        # torch refuses these two before it computes anything: said in Tcl terms, worked out only then
        name = ctx.handles.name_of(input) or "tensor"
        if not input.requires_grad:
            raise invalid_value(
                "-input", name, "must require gradients (make its inputs with -requiresGrad 1)"
            ) from None
        if gradient is None and input.numel() != 1:
            raise TclError(
                f'missing required option "-gradient": {name} has shape {_shape_text(input)}, '
                "and only a one-element tensor can go without a gradient",
                ["TORCH", "ARGS", "REQUIRED", "-gradient"],
            ) from None
        raise


def _mode_command(name: str, mode: Callable[[], Any], enabled: bool, doc: str) -> None:
    def run(script: str | None, ctx: Any) -> str:
        if script is None:  # the other implementation's form: a switch for the rest of the session
            torch.set_grad_enabled(enabled)
            return ""
        with mode():
            return scoped_eval(ctx, script)

    run.__name__ = name
    command(
        name,
        Opt(
            "script",
            Script(),
            default=None,
            aliases=("body",),
            help="script to run in this mode (without one: switch the mode for the rest of the session)",
        ),
        context=True,
        doc=doc,
    )(run)


_MODE_DOC = """

The script runs in the caller's frame like `torch::scope`'s: handles it makes are freed except
those in its result, and `return`, `break`, `continue` and errors pass through. The previous
mode returns on every way out. Without a script (the other implementation's form) the command
switches the mode for the rest of the session.

## Return Value

The script's result, or an empty string without a script.

Examples:
"""


_mode_command(
    "no_grad",
    torch.no_grad,
    False,
    "Run a script without recording autograd graphs (no script: turn recording off)."
    + _MODE_DOC
    + """    set x [torch::ones {2} -requiresGrad 1]
    puts [torch::no_grad { torch::tensor_requires_grad [torch::tensor_mul $x 2] }]   ;# -> 0
    puts [torch::tensor_requires_grad [torch::tensor_mul $x 2]]                     ;# -> 1
""",
)


_mode_command(
    "enable_grad",
    torch.enable_grad,
    True,
    "Run a script with autograd recording on (no script: turn recording on)."
    + _MODE_DOC
    + """    set x [torch::ones {2} -requiresGrad 1]
    puts [torch::no_grad { torch::enable_grad { torch::tensor_requires_grad [torch::tensor_mul $x 2] } }]   ;# -> 1
""",
)


@command(
    "inference_mode",
    Opt("script", Script(), help="script to run in inference mode", aliases=("body",)),
    Opt("mode", Bool(), default=True, help="0 runs the script with inference mode off", aliases=("enabled",)),
    context=True,
)
def inference_mode(script: str, mode: bool, ctx: Any) -> str:
    """Run a script in torch.inference_mode: no autograd graphs and no version counters.

    Faster than `torch::no_grad` for pure inference; tensors made inside are inference tensors and
    cannot be used in autograd later. The script runs in the caller's frame like `torch::scope`'s
    (handles it makes are freed except those in its result), and the previous mode returns on
    every way out: normal end, error, `return`, `break`, `continue`.

    ## Return Value

    The script's result.

    Examples:
        set x [torch::ones {2} -requiresGrad 1]
        set y [torch::inference_mode { torch::tensor_mul $x 2 }]
        puts [torch::tensor_requires_grad $y]   ;# -> 0
    """
    with torch.inference_mode(mode):
        return scoped_eval(ctx, script)


@command(
    "set_grad_enabled",
    Opt("enabled", Bool(), help="1 records autograd graphs, 0 does not", aliases=("mode", "enable")),
    Opt("script", Script(), default=None, help="if given, only this script runs in the mode"),
    context=True,
)
def set_grad_enabled(enabled: bool, script: str | None, ctx: Any) -> str:
    """Switch autograd recording on or off, for the rest of the session or for one script.

    With a script, the mode holds only while it runs (as `torch::no_grad`/`torch::enable_grad`
    do) and the previous mode returns on every way out; without one, it stays.

    ## Return Value

    The script's result, or an empty string.

    Examples:
        puts [torch::set_grad_enabled 0 { torch::is_grad_enabled }]   ;# -> 0
        puts [torch::is_grad_enabled]   ;# -> 1
    """
    if script is None:
        torch.set_grad_enabled(enabled)
        return ""
    with torch.set_grad_enabled(enabled):
        return scoped_eval(ctx, script)


@command(
    "is_grad_enabled",
)
def is_grad_enabled() -> bool:
    """1 when autograd records graphs, else 0.

    ## Return Value

    A boolean (torch.is_grad_enabled()).

    Examples:
        puts [torch::is_grad_enabled]                         ;# -> 1
        puts [torch::no_grad { torch::is_grad_enabled }]      ;# -> 0
    """
    return torch.is_grad_enabled()


def _prefix(text: str, option: str, ctx: Any) -> list[str]:
    words = ctx.split(text, option)
    if not words:
        raise invalid_value(option, text, "must be a command prefix (a proc name or a list)")
    return words


Function = Custom(_prefix, "command prefix", "must be a command prefix (a proc name or a list)")


def tcl_function(ctx: Any, prefix: list[str], option: str = "-func") -> Callable[..., Any]:
    """A Python function of tensors that calls the Tcl command prefix with their handles."""

    def call(*tensors: torch.Tensor) -> Any:
        mark = ctx.handles.mark()
        try:
            names = [ctx.handles.put(t) for t in tensors]
            result = ctx.call(*prefix, *names)
            words = ctx.split(result, option)
            try:
                values = [ctx.handles.get(w, "tensor") for w in words]
            except TclError:
                raise TclError(
                    f'{option} {" ".join(prefix)} must return a tensor handle or a list of them, got "{result}"',
                    ["TORCH", "VALUE", option],
                ) from None
            if not values:
                raise TclError(f"{option} {' '.join(prefix)} returned nothing", ["TORCH", "VALUE", option])
        finally:
            ctx.handles.release_since(mark)
        return values[0] if len(values) == 1 else tuple(values)

    return call


def _unpack(values: Any) -> Any:
    return values[0] if isinstance(values, (list, tuple)) and len(values) == 1 else tuple(values)


def _func() -> Opt:
    return Opt(
        "func",
        Function,
        help="command prefix called with the input handles appended",
        aliases=("function", "fn"),
    )


def _inputs(help: str = "input tensor handle(s)") -> Opt:
    return Opt("inputs", HandleList("tensor"), help=help, aliases=("input",))


def _nonempty(tensors: list[torch.Tensor], option: str) -> None:
    if not tensors:
        raise invalid_value(option, "", "must name at least one tensor")


@command(
    "grad",
    Opt(
        "outputs", HandleList("tensor"), help="output tensor handle(s) to differentiate", aliases=("output",)
    ),
    _inputs("tensors to differentiate with respect to"),
    Opt(
        "gradOutputs",
        HandleList("tensor"),
        default=None,
        help="gradients of the outputs (default: ones, the gradient of their sum)",
        aliases=("grad_outputs",),
    ),
    Opt(
        "retainGraph",
        Bool(),
        default=None,
        help="keep the graph for another backward (default: -createGraph)",
        aliases=("retain_graph",),
    ),
    Opt(
        "createGraph",
        Bool(),
        default=False,
        help="record the derivative itself (higher-order gradients)",
        aliases=("create_graph",),
    ),
    Opt(
        "allowUnused",
        Bool(),
        default=False,
        help="an input the outputs do not depend on gets a zero gradient",
        aliases=("allow_unused",),
    ),
    context=True,
)
def grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, ctx):
    """Gradients of outputs with respect to inputs (torch.autograd.grad); `.grad` is not touched.

    `-outputs` and `-inputs` are tensor handles or lists of them. `-gradOutputs` gives each
    output's own gradient (the vector of a vector-Jacobian product). Without it, an output of
    several elements is differentiated as the sum of its elements (every element's gradient is
    1), as TensorFlow's `GradientTape.gradient` and the other implementation's command do;
    `torch.autograd.grad` itself asks for them there. With `-createGraph 1` the gradients are
    differentiable (second derivatives); the graph is then kept.

    ## Return Value

    A tensor handle, or a list of them when there are several inputs.

    Examples:
        set x [torch::tensor_create {1 2 3} -dtype float64 -requiresGrad 1]
        set y [torch::tensor_sum [torch::tensor_mul $x $x]]
        puts [torch::tensor_to_list [torch::grad $y $x]]   ;# -> 2.0 4.0 6.0
    """
    _nonempty(outputs, "-outputs")
    _nonempty(inputs, "-inputs")
    for t in outputs:
        if not t.requires_grad:
            raise invalid_value("-outputs", "", "must depend on tensors that require gradients")
    if grad_outputs is not None and len(grad_outputs) != len(outputs):
        raise invalid_value("-gradOutputs", "", f"must give {len(outputs)} tensors, one per output")
    if grad_outputs is None and any(t.numel() != 1 for t in outputs):
        # the gradient of the outputs' sum: every element's own gradient is 1
        grad_outputs = [torch.ones_like(t) for t in outputs]
    try:
        grads = torch.autograd.grad(
            outputs,
            inputs,
            grad_outputs=grad_outputs,
            retain_graph=retain_graph,
            create_graph=create_graph,
            allow_unused=allow_unused,
            materialize_grads=allow_unused,
        )
    except RuntimeError as exc:
        unused = re.search(r"Tensor at index (\d+) appears to not have been used", str(exc))
        if unused is None:
            raise
        # torch says so before it computes anything; said in Tcl terms
        index = int(unused.group(1))
        name = ctx.handles.name_of(inputs[index]) or f"input {index}"
        raise invalid_value(
            "-inputs", name, "is not used to compute the outputs (-allowUnused 1 gives it a zero gradient)"
        ) from None
    return _unpack(grads)


@command(
    "jacobian",
    _func(),
    _inputs(),
    Opt("createGraph", Bool(), default=False, help="make the result differentiable"),
    Opt(
        "vectorize",
        Bool(),
        default=False,
        help="evaluate with vmap (one call) instead of one backward per row",
    ),
    context=True,
    extra_aliases=("Jacobian",),
)
def jacobian(func, inputs, create_graph, vectorize, ctx):
    """Jacobian of a Tcl function of tensors (torch.autograd.functional.jacobian).

    The function is a command prefix (a proc name, or a list such as an `apply` lambda) called
    with the input handles appended; it returns a tensor handle. Handles it makes are freed after
    each call.

    ## Return Value

    A tensor handle of shape output-shape + input-shape (a list for several inputs).

    Examples:
        proc square {t} { torch::tensor_mul $t $t }
        set x [torch::tensor_create {1 2} -dtype float64]
        puts [torch::tensor_to_list [torch::jacobian square $x]]   ;# -> {2.0 0.0} {0.0 4.0}
    """
    _nonempty(inputs, "-inputs")
    f = tcl_function(ctx, func)
    result = torch.autograd.functional.jacobian(
        f, tuple(inputs) if len(inputs) > 1 else inputs[0], create_graph=create_graph, vectorize=vectorize
    )
    return _flatten(result)


def _flatten(result: Any) -> Any:
    if isinstance(result, torch.Tensor):
        return result
    return [_flatten(r) for r in result]


@command(
    "hessian",
    _func(),
    _inputs(),
    Opt("createGraph", Bool(), default=False, help="make the result differentiable"),
    context=True,
)
def hessian(func, inputs, create_graph, ctx):
    """Hessian of a scalar Tcl function of tensors (torch.autograd.functional.hessian).

    ## Return Value

    A tensor handle of shape input-shape + input-shape.

    Examples:
        proc cubes {t} { torch::tensor_sum [torch::tensor_pow $t 3] }
        set x [torch::tensor_create {1 2} -dtype float64]
        puts [torch::tensor_to_list [torch::hessian cubes $x]]   ;# -> {6.0 0.0} {0.0 12.0}
    """
    _nonempty(inputs, "-inputs")
    f = tcl_function(ctx, func)
    result = torch.autograd.functional.hessian(
        f, tuple(inputs) if len(inputs) > 1 else inputs[0], create_graph=create_graph
    )
    return _flatten(result)


def _vector_op(name: str, fn: Callable[..., Any], doc: str, vhelp: str) -> None:
    def run(func, inputs, v, create_graph, ctx):
        _nonempty(inputs, "-inputs")
        f = tcl_function(ctx, func)
        args = tuple(inputs) if len(inputs) > 1 else inputs[0]
        vec = None if v is None else (tuple(v) if len(v) > 1 else v[0])
        output, product = fn(f, args, vec, create_graph=create_graph)
        return [_flatten(output), _flatten(product)]

    run.__name__ = name
    command(
        name,
        _func(),
        _inputs(),
        Opt("v", HandleList("tensor"), default=None, help=vhelp, aliases=("vector", "vectors")),
        Opt("createGraph", Bool(), default=False, help="make the result differentiable"),
        context=True,
        doc=doc,
        extra_aliases=("vectorJacobianProduct",) if name == "vjp" else (),
    )(run)


_vector_op(
    "vjp",
    torch.autograd.functional.vjp,
    """Vector-Jacobian product vᵀJ of a Tcl function: a list {output vjp}.

The function is a command prefix called with the input handles appended (see
`torch::jacobian`). `-v` is shaped like the function's output.

## Return Value

A Tcl list of two tensor handles: the function's output and vᵀJ (shaped like the input).

Examples:
    proc square {t} { torch::tensor_mul $t $t }
    set x [torch::tensor_create {1 2} -dtype float64]
    lassign [torch::vjp square $x [torch::tensor_create {1 -1} -dtype float64]] out product
    puts [torch::tensor_to_list $product]   ;# -> 2.0 -4.0
""",
    "vector(s) shaped like the output (optional for a one-element output)",
)


_vector_op(
    "jvp",
    torch.autograd.functional.jvp,
    """Jacobian-vector product Jv of a Tcl function: a list {output jvp}.

`-v` is shaped like the input.

## Return Value

A Tcl list of two tensor handles: the function's output and Jv (shaped like the output).

Examples:
    proc square {t} { torch::tensor_mul $t $t }
    set x [torch::tensor_create {1 2} -dtype float64]
    lassign [torch::jvp square $x [torch::tensor_create {1 1} -dtype float64]] out product
    puts [torch::tensor_to_list $product]   ;# -> 2.0 4.0
""",
    "vector(s) shaped like the inputs (optional for one-element inputs)",
)


@command(
    "vmap",
    _func(),
    _inputs(),
    Opt(
        "inDims",
        Str(),
        default="0",
        help="batched dimension of each input (one integer, or one per input; {} for an unbatched input)",
        aliases=("in_dims",),
    ),
    Opt("outDims", Int(), default=0, help="dimension of the batch in the result", aliases=("out_dims",)),
    context=True,
    extra_aliases=("vectorMap",),
)
def vmap(func, inputs, in_dims, out_dims, ctx):
    """Map a Tcl function over a batch dimension (torch.func.vmap): one call sees the whole batch.

    The function is written for one example; torch runs it once on batched tensors. `-inDims`
    gives the batched dimension of each input (one integer for all), `-outDims` the batch
    dimension of the result.

    ## Return Value

    A tensor handle.

    Examples:
        set rows [torch::tensor_create {{1 2} {3 4}}]
        puts [torch::tensor_to_list [torch::vmap {apply {{r} {torch::tensor_sum $r}}} $rows]]   ;# -> 3.0 7.0
        puts [torch::tensor_to_list [torch::vmap {apply {{c} {torch::tensor_sum $c}}} $rows -inDims 1]]   ;# -> 4.0 6.0
    """
    _nonempty(inputs, "-inputs")
    words = ctx.split(in_dims, "-inDims")
    dims: list[int | None] = [None if w == "" else _int_text(w, "-inDims") for w in words]
    if len(dims) == 1:
        dims = dims * len(inputs)
    if len(dims) != len(inputs):
        raise invalid_value("-inDims", in_dims, f"must give one dimension or {len(inputs)}")
    f = tcl_function(ctx, func)
    return _flatten(torch.func.vmap(f, in_dims=tuple(dims), out_dims=out_dims)(*inputs))


def _int_text(text: str, option: str) -> int:
    value = parse_tcl_int(text)
    if value is None:
        raise invalid_value(option, text, "must be an integer")
    return value


def _tensor_dict(text: str, option: str, ctx: Any) -> dict[str, torch.Tensor]:
    words = ctx.split(text, option)
    if len(words) % 2:
        raise invalid_value(option, text, "must be a dict of parameter names and tensor handles")
    return {words[i]: ctx.handles.get(words[i + 1], "tensor") for i in range(0, len(words), 2)}


@command(
    "functional_call",
    Opt("module", Handle("module"), help="module handle", aliases=("func", "model")),
    Opt(
        "parameters",
        Custom(_tensor_dict, "dict", "must be a dict of parameter names and tensor handles"),
        help="dict: parameter or buffer name -> tensor handle, used instead of the module's own",
        aliases=("params",),
    ),
    Opt(
        "args",
        HandleList("tensor"),
        default=(),
        help="input tensor handles of the forward call",
        aliases=("inputs", "input"),
    ),
)
def functional_call(module, parameters, args):
    """Run a module's forward with some parameters or buffers replaced (torch.func.functional_call).

    `-parameters` is a Tcl dict from names (as `named_parameters` gives them: `weight`,
    `0.bias`, ...) to tensor handles; the module itself is not changed.

    ## Return Value

    The forward's result (a tensor handle).

    Examples:
        set lin [torch::linear 2 1]
        set w [torch::tensor_create {{1 2}}]
        set b [torch::tensor_create {0.5}]
        puts [torch::tensor_to_list [torch::functional_call $lin [list weight $w bias $b] [torch::ones {1 2}]]]   ;# -> 3.5
    """
    names = dict(module.named_parameters()) | dict(module.named_buffers())
    unknown = [n for n in parameters if n not in names]
    if unknown:
        raise invalid_value(
            "-parameters",
            unknown[0],
            "is not a parameter or buffer of the module (names: " + " ".join(names) + ")",
        )
    return torch.func.functional_call(module, parameters, tuple(args))


def _double_inputs(inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    return [t.detach().to(torch.float64).requires_grad_(True) if t.is_floating_point() else t for t in inputs]


@command(
    "grad_check",
    _func(),
    _inputs("input tensors (checked in float64 copies)"),
    Opt("eps", Double(gt=0), default=1e-6, help="finite-difference step"),
    Opt("atol", Double(ge=0), default=1e-5, help="absolute tolerance"),
    Opt("rtol", Double(ge=0), default=1e-3, help="relative tolerance"),
    context=True,
    extra_aliases=("gradCheck",),
)
def grad_check(func, inputs, eps, atol, rtol, ctx):
    """1 when a Tcl function's autograd gradients match finite differences (torch.autograd.gradcheck).

    The inputs are checked on float64 copies that require gradients; the function must be
    differentiable in them.

    ## Return Value

    A boolean.

    Examples:
        proc cubes {t} { torch::tensor_sum [torch::tensor_pow $t 3] }
        puts [torch::grad_check cubes [torch::tensor_create {0.5 1.5}]]   ;# -> 1
    """
    _nonempty(inputs, "-inputs")
    f = tcl_function(ctx, func)
    return torch.autograd.gradcheck(
        f, tuple(_double_inputs(inputs)), eps=eps, atol=atol, rtol=rtol, raise_exception=False
    )


@command(
    "grad_check_finite_diff",
    _func(),
    _inputs("input tensors (checked in float64 copies)"),
    Opt("eps", Double(gt=0), default=1e-6, help="central-difference step", aliases=("epsilon",)),
    context=True,
    extra_aliases=("gradCheckFiniteDiff",),
)
def grad_check_finite_diff(func, inputs, eps, ctx):
    """Largest absolute difference between autograd's gradient of a scalar Tcl function and central finite differences.

    Each input element is moved by ±`-eps` in turn (float64 copies), so keep the inputs small.

    ## Return Value

    A double: 0 means they agree exactly.

    Examples:
        proc cubes {t} { torch::tensor_sum [torch::tensor_pow $t 3] }
        puts [expr {[torch::grad_check_finite_diff cubes [torch::tensor_create {0.5 1.5}]] < 1e-6}]   ;# -> 1
    """
    _nonempty(inputs, "-inputs")
    f = tcl_function(ctx, func)
    xs = _double_inputs(inputs)
    out = f(*xs)
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        raise invalid_value("-func", " ".join(func), "must return a one-element tensor")
    analytic = torch.autograd.grad(out, xs, allow_unused=True, materialize_grads=True)
    worst = 0.0
    with torch.no_grad():
        for x, g in zip(xs, analytic):
            flat = x.view(-1)
            for i in range(flat.numel()):
                old = flat[i].item()
                flat[i] = old + eps
                plus = f(*xs).item()
                flat[i] = old - eps
                minus = f(*xs).item()
                flat[i] = old
                worst = max(worst, abs((plus - minus) / (2 * eps) - g.view(-1)[i].item()))
    return worst
