"""Data in and out: bulk conversion in C (tensor_create, tensor_to_list), tensor files,
CSV, and the batching loop, compared with torch/numpy directly."""

from __future__ import annotations

import itertools
import math
import struct

import pytest
import torch
from helpers import tcl_error

import tcltorch
from tcltorch.commands.vocabulary import tcl_values

# one interpreter for the whole file (making one costs more than most cases)
pytestmark = pytest.mark.shared_interp


# --- bulk conversion -------------------------------------------------------------------------


def _specials(dtype):
    values = [0.1, -0.0, 1.0, 1e-5, 3.4028235e38, 1e-45, 16777217.0, 1 / 3, math.inf, -math.inf, math.nan]
    return torch.tensor(values, dtype=dtype)


TENSORS = [
    lambda: torch.randn(5, 3),
    lambda: torch.randn(4, 2, 3, dtype=torch.float64),
    lambda: _specials(torch.float32),
    lambda: _specials(torch.float64),
    lambda: torch.randint(-(2**62), 2**62, (3, 4)),
    lambda: torch.randint(-100, 100, (6,), dtype=torch.int32),
    lambda: torch.randint(-100, 100, (6,), dtype=torch.int16),
    lambda: torch.randint(-100, 100, (6,), dtype=torch.int8),
    lambda: torch.randint(0, 255, (2, 3), dtype=torch.uint8),
    lambda: torch.tensor([True, False, True]),
    lambda: torch.randn(3, dtype=torch.complex64),
    lambda: torch.randn(2, 2, dtype=torch.complex128),
    lambda: torch.zeros(2, 0),
    lambda: torch.tensor(2.5),
    lambda: torch.randn(4, 6).t(),  # not contiguous
    lambda: torch.randn(3, dtype=torch.float16),
]


@pytest.mark.parametrize("make", TENSORS)
def test_to_list_matches_python_rules(interp, make):
    torch.manual_seed(0)
    t = make()
    h = interp.put(t)
    fast = interp.eval(f"torch::tensor_to_list {h}")
    expected = interp.call("set", "expected", tcl_values(t))
    assert fast == expected


def test_float32_shortest_and_exact(interp):
    t = torch.randn(1000)
    h = interp.put(t)
    words = interp.eval(f"torch::tensor_to_list {h}").split()
    back = torch.tensor([float(w) for w in words], dtype=torch.float32)
    assert torch.equal(back, t)
    assert words[:1] != [] and all(
        len(w.lstrip("-").split("e")[0].replace(".", "").lstrip("0")) <= 9 for w in words
    )
    assert interp.eval("torch::tensor_to_list [torch::tensor_create {0.1 1 100000}]") == "0.1 1.0 100000.0"


def _f32_reference(x: float) -> str:
    """What bulk.c's float32 text must be: the least N from 6 (4 for subnormals) whose "%.Ng"
    reads back to the float32, with ".0" on an integer-looking text (printf's rounding)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    f32 = lambda text: struct.unpack("f", struct.pack("f", float(text)))[0]
    for digits in range(4 if 0 < abs(x) < 1.1754943508222875e-38 else 6, 10):
        text = f"{x:.{digits}g}"
        if f32(text) == x:
            break
    return text if ("." in text or "e" in text) else text + ".0"


def test_float32_text_matches_printf_everywhere(interp):
    """The printf-free formatter (and its printf fallback) against the printf rule, on random
    bit patterns of every exponent, randn values, subnormals, neighbours of powers of ten and
    of 2^24, and values whose 6-digit rounding is a near tie."""
    gen = torch.Generator().manual_seed(5)
    bits = torch.randint(-(2**31), 2**31 - 1, (20000,), generator=gen, dtype=torch.int64).to(torch.int32)
    values = [bits.view(torch.float32), torch.randn(5000, generator=gen)]
    edges = []
    for e in range(-45, 39):
        c = torch.tensor(10.0**e, dtype=torch.float32)
        for k in range(-3, 4):
            edges.append(torch.nextafter(c, torch.tensor(math.inf)) if k > 0 else c)
            c = torch.nextafter(c, torch.tensor(-math.inf if k < 0 else math.inf))
    ties = [float(f"1.234565e{e}") for e in range(-10, 20)] + [16777216.0, 16777217.0, 8388608.5, 0.5, 0.1]
    values += [torch.stack(edges), torch.tensor(ties, dtype=torch.float32)]
    t = torch.cat([v.flatten() for v in values] + [torch.tensor([0.0, -0.0, 1e-45, -3.4028235e38])])
    t = torch.where(torch.isnan(t), torch.tensor(1.5), t)
    h = interp.put(t)
    words = interp.eval(f"torch::tensor_to_list {h}").split()
    expected = [_f32_reference(x) for x in t.tolist()]
    wrong = [(w, e) for w, e in zip(words, expected) if w != e]
    assert len(words) == t.numel() and wrong == []


def test_float32_elements_are_numbers_in_tcl(interp):
    h = interp.put(torch.tensor([0.1, 2.0]))
    assert interp.eval(f"expr {{[lindex [torch::tensor_to_list {h}] 0] * 10}}") == "1.0"
    assert interp.eval(f"llength [torch::tensor_to_list {h}]") == "2"


@pytest.mark.parametrize(
    "data, dtype",
    [
        ("{1 2 3}", torch.float32),
        ("{{1.5 2} {3 -4e-3}}", torch.float64),
        ("{1 0x10 true 010}", torch.int64),
        ("{9223372036854775807 -9223372036854775808}", torch.int64),
        ("{1.7 -2.7 3}", torch.int32),
        ("{0 2 0.5}", torch.bool),
        ("{0 200 255}", torch.uint8),
        ("{}", torch.float32),
        ("5", torch.float64),
        ("{0.1 1e-30 1e30}", torch.float16),
    ],
)
def test_create_matches_torch_tensor(interp, data, dtype):
    from tcltorch.commands.spec import DTYPE_NAMES

    words = interp.eval(f"join [list {data}]")  # the numbers as Python reads them
    got = interp.get(interp.eval(f"torch::tensor_create {data} -dtype {DTYPE_NAMES[dtype]}"))
    flat, shape, _ = tcltorch.bridge.nested(data[1:-1] if data.startswith("{") else data)
    expected = torch.tensor(flat, dtype=dtype).reshape(shape)
    assert words is not None and got.dtype == dtype
    assert torch.equal(got, expected)


def test_create_refuses_what_wraps_in_torch(interp):
    # torch.tensor([-1], dtype=torch.uint8) wraps to 255; tcltorch refuses every value outside
    # the dtype's range, as torch does for 256 (issue 20)
    msg, code = tcl_error(interp, "torch::tensor_create {-1 200} -dtype uint8")
    assert msg == "invalid -data: -1 does not fit in uint8 (from 0 to 255): give a wider -dtype"
    assert code == ["TORCH", "VALUE", "-data"]


def test_create_big_list_from_a_variable(interp):
    interp.eval("set big {}; for {set i 0} {$i < 5000} {incr i} {lappend big [expr {$i * 0.25}]}")
    t = interp.get(interp.eval("torch::tensor_create $big -dtype float64"))
    assert torch.equal(t, torch.arange(5000, dtype=torch.float64) * 0.25)


@pytest.mark.parametrize(
    "data, message",
    [
        ("{1 x}", 'invalid -data: expected a number but got "x" at index {1}'),
        ("{{1 2} {3}}", "invalid -data: ragged data: element {1} is a number where a list of 2 was expected"),
        ("{{1 2} {3 4 5}}", "invalid -data: ragged data: element {1} has 3 items, expected 2"),
        ("9223372036854775808", "invalid -data: integer 9223372036854775808 does not fit in int64"),
        ('"1\\0"', 'invalid -data: expected a number but got "1\\0"'),
    ],
)
def test_create_errors(interp, data, message):
    text, code = tcl_error(interp, f"torch::tensor_create {data}")
    assert text == message
    assert code == ["TORCH", "VALUE", "-data"]


# --- tensor files ------------------------------------------------------------------------------

FILE_DTYPES = [
    torch.float32,
    torch.float64,
    torch.float16,
    torch.int64,
    torch.int32,
    torch.int8,
    torch.uint8,
    torch.bool,
    torch.complex64,
]


@pytest.mark.parametrize("ext", ["npy", "safetensors", "pt"])
@pytest.mark.parametrize("dtype", FILE_DTYPES + [torch.bfloat16])
def test_tensor_file_round_trip_bit_exact(interp, tmp_path, ext, dtype):
    if dtype == torch.complex64 and ext == "safetensors":
        pytest.skip("safetensors has no complex dtype")
    torch.manual_seed(1)
    t = (torch.randn(3, 5) * 100).to(dtype) if dtype != torch.complex64 else torch.randn(3, 5, dtype=dtype)
    if dtype.is_floating_point:
        t.view(-1)[0] = float("nan")
        t.view(-1)[1] = -0.0
    f = str(tmp_path / f"t.{ext}")
    h = interp.put(t)
    if dtype == torch.bfloat16 and ext == "npy":
        text, code = tcl_error(interp, f"torch::tensor_save {h} {f}")
        assert "bfloat16" in text and code[:2] == ["TORCH", "VALUE"]
        return
    assert interp.eval(f"torch::tensor_save {h} {f}") == f
    back = interp.get(interp.eval(f"torch::tensor_load {f}"))
    assert back.dtype == t.dtype and back.shape == t.shape
    assert torch.equal(
        back.view(torch.uint8) if dtype != torch.bool else back,
        t.view(torch.uint8) if dtype != torch.bool else t,
    )


def test_tensor_files_are_readable_by_numpy_and_safetensors(interp, tmp_path):
    import numpy as np
    from safetensors.torch import load_file

    h = interp.put(torch.arange(6.0).reshape(2, 3))
    interp.eval(f"torch::tensor_save {h} {tmp_path}/a.npy; torch::tensor_save {h} {tmp_path}/a.safetensors")
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.arange(6.0, dtype=np.float32).reshape(2, 3))
    assert torch.equal(load_file(str(tmp_path / "a.safetensors"))["tensor"], torch.arange(6.0).reshape(2, 3))
    np.save(tmp_path / "b.npy", np.arange(4, dtype=">i4"))  # big-endian from elsewhere
    assert interp.get(interp.eval(f"torch::tensor_load {tmp_path}/b.npy")).tolist() == [0, 1, 2, 3]


def test_tensor_file_errors(interp, tmp_path):
    import numpy as np

    h = interp.put(torch.ones(2))
    text, _ = tcl_error(interp, f"torch::tensor_save {h} {tmp_path}/a.txt")
    assert "must end in .npy, .safetensors or .pt" in text
    text, code = tcl_error(interp, f"torch::tensor_load {tmp_path}/missing.npy")
    assert "couldn't open" in text and code[0] == "POSIX"
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    assert (
        "not a valid .safetensors" in tcl_error(interp, f"torch::tensor_load {tmp_path}/bad.safetensors")[0]
    )
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert "not a valid .npy" in tcl_error(interp, f"torch::tensor_load {tmp_path}/obj.npy")[0]
    torch.save({"a": torch.ones(1)}, tmp_path / "d.pt")
    assert "does not hold a tensor" in tcl_error(interp, f"torch::tensor_load {tmp_path}/d.pt")[0]
    os_fifo = tmp_path / "fifo.npy"
    import os

    os.mkfifo(os_fifo)
    assert "FIFO" in tcl_error(interp, f"torch::tensor_save {h} {os_fifo}")[0]


def test_state_dict_safetensors(interp, tmp_path):
    m = interp.eval("torch::linear 3 2")
    f = tmp_path / "m.safetensors"
    interp.eval(f"torch::save_state_dict {m} {f}")
    model = interp.get(m)
    from safetensors.torch import load_file

    saved = load_file(str(f))
    assert set(saved) == {"weight", "bias"} and torch.equal(saved["weight"], model.weight.detach())
    m2 = interp.eval("torch::linear 3 2")
    interp.eval(f"torch::load_state_dict {m2} {f}")
    assert torch.equal(interp.get(m2).weight, model.weight)
    m3 = interp.eval("torch::linear 4 2")
    assert "weight" in tcl_error(interp, f"torch::load_state_dict {m3} {f}")[0]


# --- CSV ---------------------------------------------------------------------------------------


def test_load_csv_header_exponents_columns(interp, tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("# comment line\nx, y ,z\n1,2.5e1,-3E-2\n\n4.,  -5e+0,6\n")
    t = interp.get(interp.eval(f"torch::load_csv {f} -skipRows 1 -header 1 -dtype float64"))
    assert torch.equal(t, torch.tensor([[1, 25, -0.03], [4, -5, 6]], dtype=torch.float64))
    t = interp.get(interp.eval(f"torch::load_csv {f} -skipRows 1 -header 1 -columns {{z x}}"))
    assert torch.equal(t, torch.tensor([[-0.03, 1], [6, 4]], dtype=torch.float32))
    g = tmp_path / "e.tsv"
    g.write_text("1;2\n3;4\n")
    t = interp.get(interp.eval(f"torch::load_csv {g} -delimiter {{;}} -columns 1 -dtype int64"))
    assert t.tolist() == [[2], [4]] and t.dtype == torch.int64


def test_load_csv_bad_field_line_and_column(interp, tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("a,b,c\n1,2,3\n4,five,6\n")
    text, code = tcl_error(interp, f"torch::load_csv {f} -header 1")
    assert text == f'invalid -file "{f}": line 3 column 2: expected a number but got "five"'
    assert code == ["TORCH", "VALUE", "-file"]
    f.write_text("1,2\n3\n")
    assert "line 2 has 1 fields, expected 2" in tcl_error(interp, f"torch::load_csv {f}")[0]
    f.write_text("1,2\n3,\n")
    assert "line 2 column 2" in tcl_error(interp, f"torch::load_csv {f}")[0]
    assert "-columns" in tcl_error(interp, f"torch::load_csv {f} -columns q")[0]


# --- batching loop -----------------------------------------------------------------------------


def _epoch_rows(interp, n, extra=""):
    interp.eval(f"set X [torch::arange {n}]; set seen {{}}")
    interp.eval(
        f"torch::foreach_batch {{xb}} [list $X] -batchSize 3 {extra} {{lappend seen [torch::tensor_to_list $xb]}}"
    )
    return [[int(v) for v in b.split()] for b in interp.eval("join $seen |").split("|")]


def test_foreach_batch_covers_rows_once(interp):
    batches = _epoch_rows(interp, 10)
    assert batches == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    shuffled = _epoch_rows(interp, 10, "-shuffle 1 -seed 7")
    assert sorted(itertools.chain.from_iterable(shuffled)) == list(range(10)) and list(
        itertools.chain.from_iterable(shuffled)
    ) != list(range(10))
    assert _epoch_rows(interp, 10, "-shuffle 1 -seed 7") == shuffled
    g = torch.Generator()
    g.manual_seed(7 + 2)
    assert (
        list(itertools.chain.from_iterable(_epoch_rows(interp, 10, "-shuffle 1 -seed 7 -epoch 2")))
        == torch.randperm(10, generator=g).tolist()
    )
    assert _epoch_rows(interp, 10, "-dropLast 1") == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


@pytest.mark.parametrize(
    "n, world, drop", [(10, 3, False), (10, 3, True), (7, 4, False), (2, 4, False), (9, 3, True)]
)
def test_batch_order_is_distributed_sampler(n, world, drop):
    from torch.utils.data.distributed import DistributedSampler

    from tcltorch.commands.train.data import batch_order

    for shuffle in (False, True):
        for rank in range(world):
            sampler = DistributedSampler(
                range(n), num_replicas=world, rank=rank, shuffle=shuffle, seed=5, drop_last=drop
            )
            sampler.set_epoch(3)
            assert batch_order(n, shuffle, 5, 3, drop, rank, world).tolist() == list(sampler)


def test_foreach_batch_frees_handles_and_checks(interp):
    interp.eval("set X [torch::zeros {5 2}]; set Y [torch::zeros 4]")
    before = len(interp.handles())
    interp.eval("torch::foreach_batch {a} [list $X] -batchSize 2 { torch::ones 3; torch::tensor_add $a 1 }")
    assert len(interp.handles()) == before
    assert "same number of rows" in tcl_error(interp, "torch::foreach_batch {a b} [list $X $Y] {}")[0]
    assert "-batchSize" in tcl_error(interp, "torch::foreach_batch {a} [list $X] -batchSize 0 {}")[0]
