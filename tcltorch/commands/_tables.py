"""Builders for command families declared as tables (see docs/vocabulary.md).

Each builder registers an ordinary :class:`~tcltorch.commands.spec.Command` via
``@command``: parsing, aliases, errors, completion and the generated docs page
(``tools/gen_docs.py``) cannot tell it from a hand-written spec.  The row's one
line becomes the page's summary, ``doc`` its Description and the example pair
its Examples section (the docs test runs it and checks the shown output).

This module starts with ``_`` so ``load_all`` does not import it as a family."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from tcltorch.commands.spec import DType, Opt, command
from tcltorch.commands.vocabulary import TensorOrNumber, _input, as_tensors


def tensor_literal(data: str, dtype: str | None) -> str:
    """The Tcl that makes an example's input: a list literal, or data given as a [command]."""
    if data.startswith("["):
        return data
    return f"[torch::tensor_create {{{data}}}" + (f" -dtype {dtype}" if dtype else "") + "]"


def shown(expr: str, output: str, width: int = 52) -> str:
    """One example line: puts [torch::tensor_to_list EXPR] ;# -> OUTPUT."""
    line = f"puts [torch::tensor_to_list {expr}]"
    return f"{line:<{width}} ;# -> {output}"


UNARY_DOC = (
    "Works element by element on a tensor of any shape; the result has the input's shape. "
    "The result dtype is PyTorch's: floating-point functions of an integer or bool tensor give "
    "float32, rounding functions keep integer dtypes, tests such as `isnan` give bool. "
    "The result keeps the autograd graph where PyTorch defines a gradient."
)


BINARY_DOC = (
    "Each operand is a tensor handle or a Tcl number, on either side; shapes broadcast as in "
    "PyTorch and a number next to a tensor behaves like a Python scalar (the result dtype follows "
    "PyTorch's promotion rules and is the same whichever side the number is on). "
    "Two numbers give a 0-d tensor."
)


def unary_command(
    name: str,
    fn: Callable[[torch.Tensor], Any],
    summary: str,
    example: tuple[str, str, str | None],
    extra_aliases: Sequence[str] = (),
    doc: str = "",
    dtype_option: bool = False,
) -> None:
    """``torch::NAME input``: ``fn(input)`` elementwise.  example = (data, output, dtype).
    With ``dtype_option``, ``?dtype?`` converts the input to that dtype first."""
    data, output, dtype = example
    options = [_input()]
    if dtype_option:
        options.append(
            Opt(
                "dtype",
                DType(),
                default=None,
                help="convert the input to this dtype first",
                default_doc="the input's",
            )
        )

        def run(input, dtype):
            return fn(input if dtype is None else input.to(dtype))
    else:

        def run(input):
            return fn(input)

    run.__name__ = name
    code = f"set x {tensor_literal(data, dtype)}\n" + shown(f"[torch::{name} $x]", output) + "\n"
    code += shown(f"[torch::{name} -input $x]", output) + "\n"
    command(
        name,
        *options,
        summary=summary,
        extra_aliases=extra_aliases,
        doc=f"{summary}\n\n{doc + chr(10) + chr(10) if doc else ''}{UNARY_DOC}",
        examples=[code],
    )(run)


def left(*aliases: str, help: str = "tensor handle or number") -> Opt:
    return Opt("input", TensorOrNumber, help=help, aliases=aliases or ("input1", "tensor1", "tensor"))


def right(name: str = "other", *aliases: str, help: str = "tensor handle or number") -> Opt:
    return Opt(name, TensorOrNumber, help=help, aliases=aliases or ("input2", "tensor2"))


def operands(input: Any, other: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Both operands as tensors; a number becomes a 0-d tensor of the dtype ``tensor OP number``
    has, so the result is what PyTorch gives for the Python scalar, on either side."""
    a, b = as_tensors(input, other)
    if not isinstance(b, torch.Tensor):
        b = torch.tensor(b, dtype=torch.result_type(a, b), device=a.device)
    return a, b


def binary_command(
    name: str,
    fn: Callable[[torch.Tensor, Any], Any],
    summary: str,
    example: tuple[str, str, str, str | None],
    extra_aliases: Sequence[str] = (),
    options: Sequence[Opt] | None = None,
    doc: str = "",
) -> None:
    """``torch::NAME input other``: ``fn(a, b)`` with broadcasting and a number on either side.
    example = (left data, right data or number, output, dtype)."""
    a_data, b_data, output, dtype = example

    def run(input, **kw):
        return fn(*operands(input, kw[opts[1].py_name]))

    run.__name__ = name
    opts = list(options) if options is not None else [left(), right()]
    b_word = "$b" if " " in b_data or "{" in b_data else b_data
    code = f"set a {tensor_literal(a_data, dtype)}\n"
    if b_word == "$b":
        code += f"set b {tensor_literal(b_data.strip('{}'), dtype)}\n"
    code += shown(f"[torch::{name} $a {b_word}]", output) + "\n"
    code += shown(f"[torch::{name} {opts[0].flag} $a {opts[1].flag} {b_word}]", output) + "\n"
    command(
        name,
        *opts,
        summary=summary,
        extra_aliases=extra_aliases,
        doc=f"{summary}\n\n{doc + chr(10) + chr(10) if doc else ''}{BINARY_DOC}",
        examples=[code],
    )(run)
