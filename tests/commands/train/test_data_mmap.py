"""torch::tensor_load memory-mapped (-mmap): the same values as a read, a copy-on-write map that
never writes the file, files replaced or removed under a loaded tensor, files that cannot be
mapped, and memory: a mapped load reads nothing, foreach_batch over it stays flat."""

from __future__ import annotations

import gc
import hashlib
import os
import zipfile

import numpy as np
import pytest
import torch
from helpers import tcl_error

from tcltorch import serialization

pytestmark = pytest.mark.shared_interp

MiB = 1 << 20


def _mapped_file(tensor: torch.Tensor) -> str | None:
    """The file whose mapping holds the tensor's first byte (None: anonymous memory)."""
    address = tensor.data_ptr()
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            low, high = (int(v, 16) for v in fields[0].split("-"))
            if low <= address < high:
                return fields[5] if len(fields) > 5 and fields[5].startswith("/") else None
    return None


def _status(field: str) -> int:
    """A /proc/self/status memory figure, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(field)


def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1).contiguous().view(torch.uint8) if t.dtype != torch.bool else t


def _load(interp, path, *options: str) -> torch.Tensor:
    return interp.get(interp.eval(" ".join(["torch::tensor_load", str(path), *options])))


def _mmap_sample(dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    gen = torch.Generator().manual_seed(7)
    if dtype == torch.bool:
        return torch.rand(shape, generator=gen) > 0.5
    if dtype.is_floating_point or dtype.is_complex:
        t = torch.randn(shape, generator=gen, dtype=dtype)
        if t.numel() >= 2:
            t.view(-1)[0] = float("nan")
            t.view(-1)[1] = -0.0
        return t
    return torch.randint(0, 100, shape, generator=gen).to(dtype)


DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.uint8, torch.bool]
SHAPES = [(600, 700), (3, 4), (), (0, 5)]  # 600x700 float32 is 1.6 MiB: mapped by default


# every format with every dtype it can hold (.npy has no bfloat16)
FORMATS = [
    (ext, d) for ext in ("npy", "safetensors", "pt") for d in DTYPES if (ext, d) != ("npy", torch.bfloat16)
]


@pytest.mark.parametrize(("ext", "dtype"), FORMATS, ids=lambda v: str(v))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_mapped_and_read_are_equal_bit_for_bit(interp, tmp_path, ext, dtype, shape):
    t = _mmap_sample(dtype, shape)
    path = tmp_path / f"t.{ext}"
    serialization.save_tensor(t, str(path))
    for options in ((), ("-mmap", "1"), ("-mmap", "0")):
        back = _load(interp, path, *options)
        assert back.dtype == t.dtype and back.shape == t.shape, options
        assert torch.equal(_bits(back), _bits(t)), options


@pytest.mark.parametrize("ext", ["npy", "safetensors", "pt"])
def test_which_loads_map_the_file(interp, tmp_path, ext):
    big, small = tmp_path / f"big.{ext}", tmp_path / f"small.{ext}"
    serialization.save_tensor(torch.ones(512, 1024), str(big))  # 2 MiB
    serialization.save_tensor(torch.ones(4), str(small))
    assert _mapped_file(_load(interp, big)) == str(big)  # default: 1 MiB or more is mapped
    assert _mapped_file(_load(interp, big, "-mmap", "1")) == str(big)
    assert _mapped_file(_load(interp, big, "-mmap", "0")) is None
    assert _mapped_file(_load(interp, small)) is None  # default: a small file is read
    assert _mapped_file(_load(interp, small, "-mmap", "yes")) == str(small)


@pytest.mark.parametrize("ext", ["npy", "safetensors", "pt"])
def test_an_in_place_change_never_reaches_the_file(interp, tmp_path, ext):
    path = tmp_path / f"t.{ext}"
    original = torch.arange(300_000, dtype=torch.float32)
    serialization.save_tensor(original, str(path))
    before = _digest(path)
    h = interp.eval(f"torch::tensor_load {path} -mmap 1")
    interp.eval(f"torch::init_constant {h} 42")
    assert torch.equal(interp.get(h), torch.full((300_000,), 42.0))
    interp.get(h).view(-1)[:10] = -1  # a Python write to the same pages
    assert _digest(path) == before
    assert torch.equal(_load(interp, path, "-mmap", "1"), original)
    interp.eval(f"torch::free {h}")
    assert _digest(path) == before


@pytest.mark.parametrize("ext", ["npy", "safetensors", "pt"])
def test_file_removed_or_replaced_after_a_mapped_load(interp, tmp_path, ext):
    path = tmp_path / f"t.{ext}"
    first = torch.arange(400_000, dtype=torch.float32).reshape(400, 1000)
    serialization.save_tensor(first, str(path))
    removed = interp.eval(f"torch::tensor_load {path} -mmap 1")
    os.unlink(path)
    assert torch.equal(interp.get(removed), first)
    serialization.save_tensor(first, str(path))
    replaced = interp.eval(f"torch::tensor_load {path} -mmap 1")
    interp.eval(f"torch::tensor_save [torch::zeros {{400 1000}}] {path}")  # a new file, renamed over
    assert torch.equal(interp.get(replaced), first)
    assert torch.equal(interp.get(removed), first)
    assert torch.equal(_load(interp, path), torch.zeros(400, 1000))
    interp.eval(f"torch::free {removed} {replaced}")


def test_files_that_cannot_be_mapped(interp, tmp_path):
    big_endian = tmp_path / "be.npy"
    np.save(big_endian, np.arange(300_000, dtype=">i4"))  # 1.2 MB: the default would map it
    legacy = tmp_path / "legacy.pt"
    torch.save(torch.arange(4), legacy, _use_new_zipfile_serialization=False)
    compressed = tmp_path / "deflated.pt"
    torch.save(torch.arange(5), tmp_path / "stored.pt")
    with (
        zipfile.ZipFile(tmp_path / "stored.pt") as src,
        zipfile.ZipFile(compressed, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    cases = [
        (big_endian, "its numbers are big-endian", torch.arange(300_000, dtype=torch.int32)),
        (legacy, "it is in PyTorch's legacy (pre-1.6, not zip) format", torch.arange(4)),
        (compressed, "its records are compressed", torch.arange(5)),
    ]
    for path, reason, values in cases:
        text, code = tcl_error(interp, f"torch::tensor_load {path} -mmap 1")
        assert text.startswith(f'invalid -mmap "1": "{path}" cannot be memory-mapped: {reason}'), text
        assert text.endswith("-mmap 0 reads it into memory") and code == ["TORCH", "VALUE", "-mmap"]
        for options in ((), ("-mmap", "0")):  # the default and -mmap 0 read it into memory
            back = _load(interp, path, *options)
            assert torch.equal(back, values) and _mapped_file(back) is None


def test_checks_stay_when_mapping(interp, tmp_path):
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    truncated = tmp_path / "cut.npy"
    np.save(truncated, np.arange(300_000, dtype=np.float32))
    os.truncate(truncated, 600_000)
    cut_st = tmp_path / "cut.safetensors"
    serialization.save_tensor(torch.arange(300_000.0), str(cut_st))
    os.truncate(cut_st, 600_000)
    two = tmp_path / "two.safetensors"
    serialization.save_safetensors({"a": torch.ones(2), "b": torch.ones(3)}, str(two))
    damaged = tmp_path / "damaged.pt"
    serialization.save_tensor(torch.arange(300_000.0), str(damaged))
    blob = bytearray(damaged.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # inside the tensor's record: its CRC-32 no longer matches
    damaged.write_bytes(bytes(blob))
    negative = tmp_path / "negative.npy"
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }"
    header += " " * (127 - 10 - len(header)) + "\n"
    negative.write_bytes(
        b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(64)
    )
    for options in ("", "-mmap 1"):
        text = tcl_error(interp, f"torch::tensor_load {negative} {options}")[0]
        assert "not a valid .npy file of numbers" in text
        assert (
            "not a valid .npy file of numbers" in tcl_error(interp, f"torch::tensor_load {obj} {options}")[0]
        )
        assert (
            "not a valid .npy file of numbers"
            in tcl_error(interp, f"torch::tensor_load {truncated} {options}")[0]
        )
        assert (
            "not a valid .safetensors file" in tcl_error(interp, f"torch::tensor_load {cut_st} {options}")[0]
        )
        text = tcl_error(interp, f"torch::tensor_load {two} {options}")[0]
        assert "holds 2 tensors (a b), not one" in text
        text, code = tcl_error(interp, f"torch::tensor_load {damaged} {options}")
        assert "does not match its checksum" in text and code == ["TORCH", "VALUE", "-file"]


def test_fortran_order_npy(interp, tmp_path):
    path = tmp_path / "f.npy"
    values = np.asfortranarray(np.arange(600 * 500, dtype=np.float32).reshape(600, 500))
    np.save(path, values)
    mapped, read = _load(interp, path, "-mmap", "1"), _load(interp, path, "-mmap", "0")
    assert _mapped_file(mapped) == str(path) and mapped.stride() == (1, 600)
    assert read.is_contiguous() and _mapped_file(read) is None
    assert torch.equal(mapped, torch.from_numpy(np.ascontiguousarray(values)))
    assert torch.equal(read, mapped)
    listed = [interp.eval(f"torch::tensor_to_list {interp.put(t)}") for t in (mapped, read)]
    assert listed[0] == listed[1]


def _sparse_npy(path, rows: int, cols: int) -> int:
    """A float32 .npy of zeros whose data is a hole (no disk blocks): returns its data bytes."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (rows, cols)}
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.truncate(f.tell() + rows * cols * 4)
    return rows * cols * 4


def test_a_mapped_load_reads_nothing_and_batches_stay_flat(interp, tmp_path):
    path = tmp_path / "big.npy"
    size = _sparse_npy(path, 200 * 1024, 256)  # 200 MiB
    interp.eval("set rows {}")
    rss = _status("VmRSS")
    h = interp.eval(f"torch::tensor_load {path} -mmap 1")
    grown = _status("VmRSS") - rss
    assert grown < size // 10, grown  # nothing is read: far below the file's 200 MiB
    anon = _status("RssAnon")
    interp.eval(f"set X {h}")
    total = interp.eval(
        "set total 0.0\n"
        "torch::foreach_batch {xb} [list $X] -batchSize 4096 {\n"
        "    set total [expr {$total + [torch::tensor_item [torch::tensor_sum $xb]]}]\n"
        "}\n"
        "set total"
    )
    assert float(total) == 0.0
    # every page was read, into the page cache: this process's own memory stayed flat
    assert _status("RssAnon") - anon < size // 10
    interp.eval(f"torch::free {h}")
    # the method sees a read: -mmap 0 brings the whole file into this process's memory
    rss = _status("VmRSS")
    h = interp.eval(f"torch::tensor_load {path} -mmap 0")
    assert _status("VmRSS") - rss > size * 0.8
    interp.eval(f"torch::free {h}")


def test_mapped_npy_tensors_hold_no_file_open(interp, tmp_path):
    path = tmp_path / "t.npy"
    serialization.save_tensor(torch.arange(300_000, dtype=torch.float32), str(path))
    gc.collect()  # (an earlier test's garbage closing its files meanwhile must not count)
    before = set(os.listdir("/proc/self/fd"))
    handles = [interp.eval(f"torch::tensor_load {path} -mmap 1") for _ in range(20)]
    assert set(os.listdir("/proc/self/fd")) - before == set()  # a NumPy memmap would keep 20 open
    assert all(_mapped_file(interp.get(h)) == str(path) for h in handles)
    interp.eval("torch::free " + " ".join(handles))


def test_npy_data_not_aligned_for_its_type_is_mapped_by_numpy(interp, tmp_path):
    path = tmp_path / "odd.npy"
    values = np.arange(300_000, dtype=np.float64)
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (300000,), }"
    header += " " * (75 - 10 - len(header)) + "\n"  # the data starts at byte 76: not a multiple of 8
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1"))
        f.write(values.tobytes())
    assert np.array_equal(np.load(path), values)
    back = _load(interp, path, "-mmap", "1")
    assert _mapped_file(back) == str(path) and torch.equal(back, torch.from_numpy(values))
    assert torch.equal(_load(interp, path, "-mmap", "0"), back)
