"""PyTorch's error messages, said in Tcl terms: a table of rules.

Each :class:`Rule` matches the first line of an exception PyTorch raised inside a command (a
regular expression, and the exception classes it applies to) and builds what to say BEFORE
PyTorch's own text: the handles involved by name, shapes as Tcl lists (``{2 4}``), dtypes and
devices as the commands spell them, and what to do.  The bridge appends ``(PyTorch: <text>)``
(see ``Session.error`` in tcltorch/bridge and :func:`tcltorch.errors.translate`, which asks this
table after its own rules).  A rule returns None when the call's arguments do not let it say
more than PyTorch did; the next rule is then tried, and in the end PyTorch's text stands alone.

To add a message: one more ``Rule`` in ``RULES`` and a tcltest case in tests/tcl/torch_errors.test.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Call:
    """What a rule knows about the failed call: the command, its parsed arguments (objects,
    not words, in declaration order) and the handle table (for names)."""

    invoked: str
    kwargs: dict[str, Any]
    handles: Any

    def values(self) -> list[Any]:
        found = []
        for value in self.kwargs.values():
            found.extend(value if isinstance(value, (list, tuple)) else [value])
        return found

    def tensors(self) -> list[Any]:
        import torch

        return [v for v in self.values() if isinstance(v, torch.Tensor)]

    def module(self) -> Any:
        import torch

        return next((v for v in self.values() if isinstance(v, torch.nn.Module)), None)

    def name(self, obj: Any, fallback: str = "") -> str:
        """A handle's name (``tensor3``), else ``fallback`` (else "a tensor")."""
        found = self.handles.name_of(obj) if self.handles is not None else None
        return found or fallback or "a tensor"

    def described(self, tensor: Any) -> str:
        """``tensor3 {2 4}``: the handle and its shape."""
        return f"{self.name(tensor)} {shape(tensor.shape)}"


def shape(dims: Any) -> str:
    """A shape as a Tcl list: ``{2 4}`` (``{}`` for a scalar)."""
    return "{" + " ".join(str(int(d)) for d in dims) + "}"


def dtype(value: Any) -> str:
    """A dtype as the commands spell it (``float32``), from a torch.dtype or one of the
    names in PyTorch's messages (``Float``, ``double``, ``BFloat16``)."""
    text = str(value).replace("torch.", "")
    return _TORCH_TYPE_NAMES.get(text.lower(), text)


_TORCH_TYPE_NAMES = {
    "float": "float32",
    "double": "float64",
    "half": "float16",
    "bfloat16": "bfloat16",
    "long": "int64",
    "int": "int32",
    "short": "int16",
    "char": "int8",
    "byte": "uint8",
    "bool": "bool",
    "complexfloat": "complex64",
    "complexdouble": "complex128",
}


@dataclass(frozen=True)
class Rule:
    """One entry of the table: ``name`` (for tests and the docs), the exception classes it
    applies to, the pattern of PyTorch's first line, and ``say(match, call)`` -> the Tcl-terms
    message or None."""

    name: str
    exceptions: tuple[type[BaseException], ...]
    pattern: re.Pattern[str]
    say: Callable[[re.Match[str], Call], str | None]


# -- the rules -----------------------------------------------------------------------------------


def _matmul(match: re.Match[str], call: Call) -> str | None:
    """``mat1 and mat2 shapes cannot be multiplied (2x4 and 3x2)`` outside a layer."""
    rows_a, cols_a, rows_b, cols_b = match.groups()
    operands = [t for t in call.tensors() if t.dim() >= 1]
    if len(operands) >= 2:
        a, b = operands[0], operands[1]
        what = f"{call.described(a)} by {call.described(b)}"
    else:
        what = f"a {rows_a}x{cols_a} matrix by a {rows_b}x{cols_b} one"
    return (
        f"cannot multiply {what}: the last dimension of the first ({cols_a}) must equal "
        f"the first dimension of the second ({rows_b})"
    )


def _batched_matmul(match: re.Match[str], call: Call) -> str | None:
    """``Expected size for first two dimensions of batch2 tensor to be: [5, 4] but got: [5, 3].``"""
    operands = [t for t in call.tensors() if t.dim() >= 3]
    if len(operands) < 2:
        return None
    a, b = operands[0], operands[1]
    return (
        f"cannot multiply the batches of {call.described(a)} by those of {call.described(b)}: "
        f"each matrix of the first has {a.shape[-1]} columns, each of the second {b.shape[-2]} rows "
        "(they must be equal)"
    )


def _vector_matmul(match: re.Match[str], call: Call) -> str | None:
    """``size mismatch, got input (2), mat (2x4), vec (3)``."""
    rows, cols, length = match.group(2), match.group(3), match.group(4)
    operands = call.tensors()
    if len(operands) >= 2:
        what = f"{call.described(operands[0])} by {call.described(operands[1])}"
    else:
        what = f"a {rows}x{cols} matrix by a vector of {length}"
    return f"cannot multiply {what}: the matrix has {cols} columns, the vector {length} elements"


def _broadcast(match: re.Match[str], call: Call) -> str | None:
    """``The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1``."""
    size_a, size_b, dim = match.groups()
    operands = call.tensors()
    names = ""
    if len(operands) >= 2:
        names = f"{call.described(operands[0])} and {call.described(operands[1])} "
    elif operands:
        names = f"{call.described(operands[0])} and its other operand "
    return (
        f"the shapes of {names or 'the operands '}do not broadcast: dimension {dim} (counted from the "
        f"right-aligned shapes) is {size_a} in one and {size_b} in the other; sizes must be equal, "
        "or one of them 1 (torch::tensor_unsqueeze or torch::tensor_reshape can add that 1)"
    )


def _dtypes(match: re.Match[str], call: Call) -> str | None:
    """``mat1 and mat2 must have the same dtype, but got Double and Float`` (and its kin)."""
    module = call.module()
    tensors = call.tensors()
    if module is not None and tensors:
        params = next((p for p in module.parameters() if p.is_floating_point()), None)
        if params is not None and params.dtype != tensors[0].dtype:
            mine, given = dtype(params.dtype), dtype(tensors[0].dtype)
            who = call.name(module, "the module")
            return (
                f"{who}'s parameters are {mine} but its input {call.name(tensors[0])} is {given}: "
                f"convert the input (torch::tensor_to {call.name(tensors[0], 'TENSOR')} -dtype {mine}) "
                f"or the module (torch::layer_to {who} -dtype {given})"
            )
    if len(tensors) >= 2 and tensors[0].dtype != tensors[1].dtype:
        a, b = tensors[0], tensors[1]
        return (
            f"{call.name(a)} is {dtype(a.dtype)} but {call.name(b)} is {dtype(b.dtype)}; they must have "
            f"the same dtype: convert one (torch::tensor_to {call.name(b, 'TENSOR')} -dtype {dtype(a.dtype)})"
        )
    found = [dtype(g) for g in match.groups() if g]
    if len(found) == 2:
        return (
            f"the operands are {found[0]} and {found[1]}; they must have the same dtype: "
            "convert one with torch::tensor_to ... -dtype (a module with torch::layer_to ... -dtype)"
        )
    return None


def _reshape(match: re.Match[str], call: Call) -> str | None:
    """``shape '[5, 5]' is invalid for input of size 12``."""
    wanted = [int(d) for d in re.findall(r"-?\d+", match.group(1))]
    size = int(match.group(2))
    source = next((t for t in call.tensors() if t.numel() == size), None)
    known = [d for d in wanted if d != -1]
    count = math.prod(known)
    what = f"{call.described(source)} ({size} elements)" if source is not None else f"{size} elements"
    if -1 in wanted:
        need = f"the other dimensions multiply to {count}, which does not divide {size}"
    else:
        need = f"{shape(wanted)} holds {count}"
    return f"cannot reshape {what} to {shape(wanted)}: {need} (one dimension may be -1: computed)"


def _view(match: re.Match[str], call: Call) -> str | None:
    """``view size is not compatible with input tensor's size and stride ... Use .reshape(...)``."""
    source = next(iter(call.tensors()), None)
    who = call.described(source) if source is not None else "the tensor"
    return (
        f"{who} is not contiguous in memory (a transpose, permute or slice made it), so it cannot be "
        f"viewed in that shape: use torch::tensor_reshape (it copies when it must), or "
        f"torch::tensor_contiguous first"
    )


def _target(match: re.Match[str], call: Call) -> str | None:
    """``Target 3 is out of bounds.`` (cross_entropy_loss, nll_loss)."""
    target = int(match.group(1))
    tensors = call.tensors()
    if not tensors:
        return None
    logits = tensors[0]
    classes = logits.shape[1] if logits.dim() >= 2 else logits.shape[0]
    named = call.name(tensors[1]) if len(tensors) > 1 else "the target"
    return (
        f"class target {target} in {named} is out of range: the input {call.described(logits)} has "
        f"{classes} classes, so targets must be class indices 0 to {classes - 1}"
    )


def _target_shape(match: re.Match[str], call: Call) -> str | None:
    """``0D or 1D target tensor expected, multi-target not supported`` (cross_entropy_loss,
    nll_loss given a target of shape {N 1}, as load_csv -columns 3 makes)."""
    tensors = call.tensors()
    if len(tensors) < 2:
        return None
    logits, target = tensors[0], tensors[1]
    name = call.name(target, "the target")
    fix = ""
    if target.dim() == 2 and target.shape[1] == 1:
        fix = f"torch::tensor_squeeze {name} 1 makes it {shape(target.shape[:1])}; "
    rows = shape(logits.shape[:1]) if logits.dim() >= 1 else "{}"
    return (
        f"the target {call.described(target)} must be 1-d class indices of shape {rows}, one per row of "
        f"the input {call.described(logits)}: {fix}torch::load_csv gives a 1-d column when it is named "
        "(-header 1 -columns NAME)"
    )


def _device(match: re.Match[str], call: Call) -> str | None:
    """``Expected all tensors to be on the same device, but found at least two devices, cuda:0
    and cpu!`` and ``Tensor on device cpu is not on the expected device meta!``."""
    places = [f"{call.name(t)} on {t.device}" for t in call.tensors()]
    module = call.module()
    if module is not None:
        param = next(iter(module.parameters()), None)
        if param is not None:
            places.insert(0, f"{call.name(module, 'the module')}'s parameters on {param.device}")
    devices = {d for d in match.groups() if d}
    if len({p.rsplit(" on ", 1)[1] for p in places}) < 2:
        places = [f"one on {d}" for d in sorted(devices)]
    return (
        "the operands are on different devices (" + ", ".join(places) + "): move them to one device "
        "with torch::tensor_to ... -device (a module: torch::layer_to ... -device)"
    )


RULES: list[Rule] = [
    Rule(
        "matmul",
        (RuntimeError,),
        re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)"),
        _matmul,
    ),
    Rule(
        "batched matmul",
        (RuntimeError,),
        re.compile(r"Expected size for first two dimensions of batch2 tensor to be: \[.*\] but got: \[.*\]"),
        _batched_matmul,
    ),
    Rule(
        "matrix-vector",
        (RuntimeError,),
        re.compile(r"size mismatch, got input \((\d+)\), mat \((\d+)x(\d+)\), vec \((\d+)\)"),
        _vector_matmul,
    ),
    Rule(
        "broadcast",
        (RuntimeError,),
        re.compile(
            r"The size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\) "
            r"at non-singleton dimension (\d+)"
        ),
        _broadcast,
    ),
    Rule(
        "dtype",
        (RuntimeError,),
        re.compile(
            r"mat1 and mat2 must have the same dtype, but got (\w+) and (\w+)"
            r"|expected m1 and m2 to have the same dtype, but got: (\w+) != (\w+)"
            r"|Input type \((\w+)\) and (?:bias|weight) type \((\w+)\) should be the same"
            r"|expected scalar type (\w+) but found (\w+)"
        ),
        _dtypes,
    ),
    Rule(
        "reshape",
        (RuntimeError,),
        re.compile(r"shape '\[([-\d, ]*)\]' is invalid for input of size (\d+)"),
        _reshape,
    ),
    Rule(
        "view",
        (RuntimeError,),
        re.compile(r"view size is not compatible with input tensor's size and stride"),
        _view,
    ),
    Rule("class target", (IndexError, RuntimeError), re.compile(r"Target (-?\d+) is out of bounds"), _target),
    Rule(
        "target shape",
        (RuntimeError,),
        re.compile(r"0D or 1D target tensor expected, multi-target not supported"),
        _target_shape,
    ),
    Rule(
        "device",
        (RuntimeError,),
        re.compile(
            r"Expected all tensors to be on the same device, but (?:found at least two devices, )?"
            r"(\S+?) and (\S+?)!"
            r"|Tensor on device (\S+) is not on the expected device (\S+?)!"
        ),
        _device,
    ),
]


def translate(
    exc: BaseException, text: str, invoked: str, kwargs: dict[str, Any] | None, handles: Any
) -> str | None:
    """What to say before PyTorch's ``text`` (the exception's first line), or None: the first
    rule of :data:`RULES` whose exception classes and pattern match and that has something to say."""
    call = Call(invoked, dict(kwargs or {}), handles)
    for rule in RULES:
        if not isinstance(exc, rule.exceptions):
            continue
        match = rule.pattern.search(text)
        if match is None:
            continue
        try:
            said = rule.say(match, call)
        except Exception:  # noqa: BLE001 - a rule that cannot cope leaves PyTorch's text alone
            said = None
        if said:
            return said
    return None
