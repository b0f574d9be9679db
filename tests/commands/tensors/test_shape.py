"""Shape and indexing commands through the Python host, compared with the torch calls they wrap."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_same, tcl_error


def tcl_result(interp, script: str):
    out = interp.eval(script)
    words = out.split()
    if len(words) > 1 and all(w.startswith("tensor") for w in words):
        return [interp.get(w) for w in words]
    return interp.get(out)


g = torch.Generator().manual_seed(0)
INPUTS = {
    "f32-234": torch.randn(2, 3, 4, generator=g),
    "i64-312": torch.randint(-5, 5, (3, 1, 2), generator=g),
    "f64-1221": torch.randn(1, 2, 2, 1, generator=g, dtype=torch.float64),
    "bool-2x1x3": torch.rand(2, 1, 3, generator=g) > 0.5,
}


def lst(values) -> str:
    return "{" + " ".join(map(str, values)) + "}"


# each case: x -> (arguments after the input handle, expected result)
CASES = {
    "tensor_permute": lambda x: (lst(reversed(range(x.dim()))), x.permute(*reversed(range(x.dim())))),
    "tensor_transpose": lambda x: ("", x.transpose(-2, -1)),
    "tensor_transpose 0 2": lambda x: ("0 2", x.transpose(0, 2)),
    "tensor_squeeze": lambda x: ("", x.squeeze()),
    "tensor_squeeze 1": lambda x: ("1", x.squeeze(1)),
    "tensor_unsqueeze": lambda x: ("-1", x.unsqueeze(-1)),
    "squeeze_multiple": lambda x: ("{0 1}", x.squeeze((0, 1))),
    "unsqueeze_multiple": lambda x: ("{0 -1}", x.unsqueeze(0).unsqueeze(-1)),
    "tensor_view": lambda x: ("{-1}", x.view(-1)),
    "tensor_expand": lambda x: (lst([2, *x.shape]), x.expand(2, *x.shape)),
    "tensor_repeat": lambda x: (lst([2] + [1] * (x.dim() - 1) + [3]), x.repeat(2, *([1] * (x.dim() - 1)), 3)),
    "tensor_contiguous": lambda x: ("", x.contiguous()),
    "atleast_1d": lambda x: ("", torch.atleast_1d(x)),
    "atleast_3d": lambda x: ("", torch.atleast_3d(x)),
    "flip": lambda x: ("{0 -1}", torch.flip(x, (0, -1))),
    "roll": lambda x: ("3", torch.roll(x, 3)),
    "roll dims": lambda x: ("{1 -2} {0 2}", torch.roll(x, (1, -2), (0, 2))),
    "rot90": lambda x: ("", torch.rot90(x)),
    "rot90 k": lambda x: ("-1 {1 2}", torch.rot90(x, -1, (1, 2))),
    "narrow_copy": lambda x: ("2 0 1", x.narrow_copy(2, 0, 1)),
    "tensor_chunk": lambda x: ("2 0", list(torch.chunk(x, 2, 0))),
    "tensor_split": lambda x: ("2 -1", list(torch.tensor_split(x, 2, -1))),
    "tensor_split indices": lambda x: ("{0 1} 2", list(torch.tensor_split(x, [0, 1], 2))),
    "hsplit": lambda x: ("{1 2}", list(torch.hsplit(x, [1, 2]))),
    "vsplit": lambda x: ("{1 2}", list(torch.vsplit(x, [1, 2]))),
    "dsplit": lambda x: (
        lst(range(1, x.shape[2])) if x.shape[2] > 2 else "-indices {1}",
        list(torch.dsplit(x, list(range(1, x.shape[2])) if x.shape[2] > 2 else [1])),
    ),
    "tensor_masked_fill": lambda x: ("MASK 7", x.masked_fill(MASK(x), 7)),
    "tensor_where": lambda x: ("X 0", torch.where(MASK(x), x, 0)),
}


def MASK(x):
    return torch.arange(x.numel()).reshape(x.shape) % 2 == 0


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("which", sorted(INPUTS))
def test_against_torch(interp, case, which):
    x = INPUTS[which]
    args, want = CASES[case](x)
    cmd = case.split()[0]
    h = interp.put(x)
    if cmd == "tensor_where":
        script = f"torch::tensor_where {interp.put(MASK(x))} {h} 0"
    else:
        script = f"torch::{cmd} {h} {args.replace('MASK', interp.put(MASK(x)))}"
    assert_same(tcl_result(interp, script), want)


def test_results_are_new_handles_even_when_torch_returns_the_input(interp):
    h = interp.put(torch.zeros(2, 3))
    for cmd in ("tensor_contiguous", "atleast_1d", "atleast_2d", "tensor_transpose [torch::zeros {3}]"):
        script = f"torch::{cmd} {h}" if " " not in cmd else f"torch::{cmd}"
        assert interp.eval(script) != h


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.float64])
def test_gather_scatter_family(interp, dtype):
    x = torch.arange(12).reshape(3, 4).to(dtype)
    idx = torch.tensor([[0, 2, 1, 0], [2, 2, 0, 1]])
    hx, hi = interp.put(x), interp.put(idx)
    assert_same(tcl_result(interp, f"torch::tensor_gather {hx} 0 {hi}"), torch.gather(x, 0, idx))
    assert_same(
        tcl_result(interp, f"torch::tensor_gather -input {hx} -dim 1 -index {interp.put(idx[:, :3])}"),
        torch.gather(x, 1, idx[:, :3]),
    )
    src = torch.full((2, 4), 9).to(dtype)
    assert_same(
        tcl_result(interp, f"torch::tensor_scatter {hx} 0 {hi} {interp.put(src)}"),
        torch.scatter(x, 0, idx, src),
    )
    assert_same(tcl_result(interp, f"torch::tensor_scatter {hx} 0 {hi} 5"), torch.scatter(x, 0, idx, 5))
    uniq = torch.tensor([[0, 2, 1, 0]])
    assert_same(
        tcl_result(interp, f"torch::tensor_scatter {hx} 0 {interp.put(uniq)} {interp.put(src[:1])} add"),
        torch.scatter_reduce(x, 0, uniq, src[:1], "sum"),
    )
    am = x.argmax(1, keepdim=True)
    assert_same(
        tcl_result(interp, f"torch::take_along_dim {hx} {interp.put(am)} 1"), torch.take_along_dim(x, am, 1)
    )
    flat = torch.tensor([[11, 0], [5, 6]])
    assert_same(tcl_result(interp, f"torch::take_along_dim {hx} {interp.put(flat)}"), torch.take(x, flat))


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64])
def test_gather_nd_and_scatter_nd_are_the_nd_forms(interp, dtype):
    x = torch.arange(24).reshape(2, 3, 4).to(dtype)
    idx = torch.tensor([[0, 1], [1, 2], [1, 0]])
    got = tcl_result(interp, f"torch::gather_nd {interp.put(x)} {interp.put(idx)}")
    assert_same(got, torch.stack([x[0, 1], x[1, 2], x[1, 0]]))
    full = torch.tensor([[[0, 0, 3], [1, 2, 1]]])  # shape [1, 2, 3]: entries
    assert_same(
        tcl_result(interp, f"torch::gatherNd {interp.put(x)} {interp.put(full)}"),
        torch.stack([x[0, 0, 3], x[1, 2, 1]])[None],
    )
    upd = torch.ones(3, 4, dtype=dtype)
    want = x.clone()
    for row, (i, j) in enumerate(idx.tolist()):
        want[i, j] = upd[row]
    assert_same(
        tcl_result(interp, f"torch::scatter_nd {interp.put(x)} {interp.put(idx)} {interp.put(upd)}"), want
    )
    twice = torch.tensor([[0, 1], [0, 1]])
    want = x.clone()
    want[0, 1] += 2
    assert_same(
        tcl_result(
            interp, f"torch::scatter_nd {interp.put(x)} {interp.put(twice)} {interp.put(upd[:2])} add"
        ),
        want,
    )


def test_advanced_index(interp):
    x = torch.arange(24.0).reshape(2, 3, 4)
    i, j = torch.tensor([0, 1, 1]), torch.tensor([2, 0, 1])
    hx, hi, hj = interp.put(x), interp.put(i), interp.put(j)
    assert_same(tcl_result(interp, f"torch::tensor_advanced_index {hx} [list {hi} {hj}]"), x[i, j])
    assert_same(tcl_result(interp, f"torch::tensor_advanced_index {hx} [list : {hj}]"), x[:, j])
    assert_same(
        tcl_result(
            interp, f"torch::tensor_advanced_index {hx} [list 1 : {interp.put(torch.tensor([3, 0]))}]"
        ),
        x[1, :, torch.tensor([3, 0])],
    )
    mask = x[:, :, 0] > 4
    assert_same(tcl_result(interp, f"torch::tensor_advanced_index {hx} {interp.put(mask)}"), x[mask])


@pytest.mark.parametrize("cmd", ["hstack", "vstack", "row_stack", "dstack", "column_stack"])
@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 1)])
def test_stacks(interp, cmd, shape):
    a = torch.arange(6).reshape(-1)[: torch.Size(shape).numel()].reshape(shape)
    b = a * 10
    if cmd == "column_stack" and len(shape) == 3:
        shape = (2, 3)
        a, b = a.reshape(2, 3), b.reshape(2, 3)
    want = getattr(torch, "vstack" if cmd == "row_stack" else cmd)([a, b])
    ha, hb = interp.put(a), interp.put(b)
    assert_same(tcl_result(interp, f"torch::{cmd} {ha} {hb}"), want)
    assert_same(tcl_result(interp, f"torch::{cmd} [list {ha} {hb}]"), want)
    assert_same(tcl_result(interp, f"torch::{cmd} -tensors [list {ha} {hb}]"), want)


def test_grids_products_broadcasting(interp):
    x, y = torch.tensor([1, 2, 3]), torch.tensor([4, 5])
    hx, hy = interp.put(x), interp.put(y)
    assert_same(tcl_result(interp, f"torch::meshgrid {hx} {hy}"), list(torch.meshgrid(x, y, indexing="ij")))
    assert_same(
        tcl_result(interp, f"torch::meshgrid {hx} {hy} -indexing xy"),
        list(torch.meshgrid(x, y, indexing="xy")),
    )
    assert_same(tcl_result(interp, f"torch::cartesian_prod {hx} {hx}"), torch.cartesian_prod(x, x))
    assert_same(tcl_result(interp, f"torch::combinations {hx} 2 1"), torch.combinations(x, 2, True))
    assert_same(tcl_result(interp, f"torch::combinations {hx} 3"), torch.combinations(x, 3))
    col = torch.tensor([[1.0], [2.0]])
    assert_same(
        tcl_result(interp, f"torch::broadcast_tensors {interp.put(col)} {hy}"),
        list(torch.broadcast_tensors(col, y)),
    )
    assert_same(
        tcl_result(interp, f"torch::broadcastTensors -tensors [list {hy} {interp.put(col)}]"),
        list(torch.broadcast_tensors(y, col)),
    )
    assert interp.eval("torch::broadcast_shapes {2 1} {1 3} {3}") == "2 3"
    assert interp.eval("torch::broadcast_shapes -shapes {{5 1 2} {4 1}}") == "5 4 2"
    assert_same(tcl_result(interp, f"torch::one_hot {hx}"), torch.nn.functional.one_hot(x))
    assert_same(tcl_result(interp, f"torch::one_hot {hx} 6"), torch.nn.functional.one_hot(x, 6))


def test_gradients_flow_through_views(interp):
    x = torch.randn(2, 3, requires_grad=True)
    h = interp.put(x)
    out = tcl_result(
        interp, f"torch::tensor_sum [torch::tensor_permute [torch::tensor_repeat {h} {{2 1}}] {{1 0}}]"
    )
    out.backward()
    assert torch.equal(x.grad, torch.full((2, 3), 2.0))


@pytest.mark.parametrize(
    "script, message",
    [
        ("torch::tensor_permute X {0 1}", 'invalid -dims "0 1": must list each of the 3 dimensions once'),
        ("torch::tensor_permute X {0 0 1}", 'invalid -dims "0 0 1": must not name a dimension twice'),
        ("torch::tensor_unsqueeze X 4", 'invalid -dim "4": must be in the range -4 to 3 for a 4-d tensor'),
        ("torch::flip X {5}", 'invalid -dims "5": must be in the range -3 to 2 for a 3-d tensor'),
        ("torch::roll X {1 2}", 'invalid -shifts "1 2": must be one integer when -dims is not given'),
        (
            "torch::narrow_copy X 0 1 5",
            'invalid -length "5": must be at most 1 (start 1 in a dimension of size 2)',
        ),
        (
            "torch::tensor_split X 0",
            'invalid -sections "0": must be a number of sections >= 1 or a list of indices',
        ),
        ("torch::tensor_split X", 'missing required option "-sections" (or -indices, but not both)'),
        ("torch::tensor_masked_fill X X 1", 'invalid -mask "float32": must be a bool tensor'),
        ("torch::broadcast_shapes {2} {3}", 'invalid -shapes "{2} {3}": must broadcast together'),
        ("torch::tensor_gather X 0 X", 'invalid -index "float32": must be an integer tensor (int64)'),
    ],
)
def test_errors_name_the_option(interp, script, message):
    h = interp.put(torch.zeros(2, 3, 4))
    got, code = tcl_error(interp, script.replace("X", h))
    assert got == message
    assert code[:2] == ["TORCH", "VALUE"] or code[:3] == ["TORCH", "ARGS", "REQUIRED"]
