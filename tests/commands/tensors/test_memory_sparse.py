"""memory_stats / memory_summary with sparse tensor handles alive (issue 20): their indices and
values storages are counted; no 'Cannot access storage of SparseTensorImpl'."""

from __future__ import annotations

import pytest
import torch


def _bytes(interp) -> int:
    return int(interp.eval("dict get [torch::memory_stats] tensor_bytes"))


def _parts_bytes(tensor: torch.Tensor) -> int:
    if tensor.layout == torch.sparse_coo:
        parts = [tensor._indices(), tensor._values()]
    elif tensor.layout == torch.sparse_csr:
        parts = [tensor.crow_indices(), tensor.col_indices(), tensor.values()]
    else:
        parts = [tensor.ccol_indices(), tensor.row_indices(), tensor.values()]
    return sum(p.untyped_storage().nbytes() for p in parts)


@pytest.mark.parametrize("layout", ["coo", "csr", "csc"])
def test_sparse_handles_are_counted(interp, layout):
    for h in interp.handles():
        interp.free(h)
    dense = torch.zeros(300, 400)
    dense[::7, ::5] = 1.5
    sparse = {"coo": dense.to_sparse, "csr": dense.to_sparse_csr, "csc": dense.to_sparse_csc}[layout]()
    before = _bytes(interp)
    h = interp.put(sparse)
    after = _bytes(interp)
    assert after - before == _parts_bytes(sparse)
    stats = interp.eval("torch::memory_stats")
    assert "tensor_handles" in stats
    summary = interp.eval("torch::memory_summary")
    assert summary.startswith("tcltorch CPU memory summary")
    interp.free(h)
    assert _bytes(interp) == before


def test_created_sparse_tensor_through_tcl(interp):
    interp.eval(
        "set s [torch::sparse_coo_tensor [torch::tensor_create {{0 1} {1 0}} -dtype int64] "
        "[torch::tensor_create {3.0 4.0}] {2 2}]"
    )
    assert int(interp.eval("dict get [torch::memory_stats] tensor_handles")) >= 1
    assert "MiB" in interp.eval("torch::memory_summary")
