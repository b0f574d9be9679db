"""Autograd and runtime commands through the Python host, compared with torch directly."""

from __future__ import annotations

import json

import pytest
import torch

import tcltorch


def value(tcl, script):
    return tcl.get(tcl.eval(script))


def test_grad_equals_torch_autograd_grad(tcl):
    x = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    name = tcl.put(x)
    got = value(
        tcl, f"torch::grad [torch::tensor_sum [torch::tensor_mul {name} [torch::tensor_exp {name}]]] {name}"
    )
    want = torch.autograd.grad((x * x.exp()).sum(), x)[0]
    torch.testing.assert_close(got, want)
    assert x.grad is None  # grad does not accumulate into .grad


def test_grad_of_non_scalar_outputs_is_the_gradient_of_their_sum(tcl):
    t = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    x = tcl.put(t)
    got = value(tcl, f"torch::grad [torch::tensor_mul {x} [torch::tensor_exp {x}]] {x}")
    want = torch.autograd.grad((t * t.exp()).sum(), t)[0]
    torch.testing.assert_close(got, want)
    weights = "[torch::tensor_create {1 0 -2} -dtype float64]"
    got = value(
        tcl, f"torch::grad [torch::tensor_mul {x} [torch::tensor_exp {x}]] {x} -gradOutputs {weights}"
    )
    want = torch.autograd.grad(
        t * t.exp(), t, grad_outputs=torch.tensor([1.0, 0.0, -2.0], dtype=torch.float64)
    )[0]
    torch.testing.assert_close(got, want)
    # several outputs, one of them non-scalar: each is summed, the sums added
    two = f"[list [torch::tensor_mul {x} 2] [torch::tensor_sum [torch::tensor_mul {x} {x}]]]"
    got = value(tcl, f"torch::grad {two} {x}")
    torch.testing.assert_close(got, 2.0 + 2 * t.detach())
    assert t.grad is None


def test_grad_names_an_input_the_outputs_do_not_use(tcl):
    x = tcl.put(torch.ones(3, requires_grad=True))
    unused = tcl.put(torch.ones(2, requires_grad=True))
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval(f"torch::grad [torch::tensor_mul {x} 2] [list {x} {unused}] -retainGraph 1")
    assert str(info.value) == (
        f'invalid -inputs "{unused}": is not used to compute the outputs (-allowUnused 1 gives it a zero gradient)'
    )
    got = tcl.eval(f"torch::grad [torch::tensor_mul {x} 2] [list {x} {unused}] -allowUnused 1")
    assert [tcl.get(h).tolist() for h in got.split()] == [[2.0, 2.0, 2.0], [0.0, 0.0]]


def test_jacobian_hessian_vjp_jvp_match_torch(tcl):
    tcl.eval("proc f {t} { torch::tensor_mul [torch::tensor_tanh $t] $t }")
    fn = lambda t: t.tanh() * t
    x = torch.tensor([0.3, -1.1, 2.0], dtype=torch.float64)
    v = torch.tensor([1.0, 2.0, -1.0], dtype=torch.float64)
    xs, vs = tcl.put(x), tcl.put(v)
    torch.testing.assert_close(
        value(tcl, f"torch::jacobian f {xs}"), torch.autograd.functional.jacobian(fn, x)
    )
    tcl.eval("proc g {t} { torch::tensor_sum [f $t] }")
    torch.testing.assert_close(
        value(tcl, f"torch::hessian g {xs}"), torch.autograd.functional.hessian(lambda t: fn(t).sum(), x)
    )
    out, prod = tcl.eval(f"torch::vjp f {xs} {vs}").split()
    want_out, want_prod = torch.autograd.functional.vjp(fn, x, v)
    torch.testing.assert_close(tcl.get(out), want_out)
    torch.testing.assert_close(tcl.get(prod), want_prod)
    out, prod = tcl.eval(f"torch::jvp f {xs} {vs}").split()
    torch.testing.assert_close(tcl.get(prod), torch.autograd.functional.jvp(fn, x, v)[1])


def test_function_handles_are_freed_and_bad_results_are_errors(tcl):
    x = tcl.put(torch.ones(2, dtype=torch.float64))
    before = len(tcl.handles())
    tcl.eval("proc h {t} { torch::tensor_mul $t [torch::tensor_add $t 1] }")
    tcl.eval(f"set j [torch::jacobian h {x}]")
    assert len(tcl.handles()) == before + 1  # only the result
    tcl.eval("proc bad {t} { return 42 }")
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval(f"torch::jacobian bad {x}")
    assert "must return a tensor handle" in str(info.value)
    assert info.value.errorcode == ["TORCH", "VALUE", "-func"]


def test_vmap_maps_over_the_batch(tcl):
    batch = torch.arange(12.0).reshape(3, 4)
    b = tcl.put(batch)
    got = value(tcl, f"torch::vmap {{apply {{{{r}} {{torch::tensor_sum [torch::tensor_mul $r $r]}}}}}} {b}")
    torch.testing.assert_close(got, (batch * batch).sum(1))
    got = value(tcl, f"torch::vmap {{apply {{{{c}} {{torch::tensor_sum $c}}}}}} {b} -inDims 1")
    torch.testing.assert_close(got, batch.sum(0))


def test_functional_call_uses_the_given_parameters(tcl):
    lin = torch.nn.Linear(2, 1)
    m = tcl.put(lin)
    w, b, x = tcl.put(torch.tensor([[1.0, 2.0]])), tcl.put(torch.tensor([0.5])), tcl.put(torch.ones(3, 2))
    got = value(tcl, f"torch::functional_call {m} [list weight {w} bias {b}] {x}")
    assert got.tolist() == [[3.5], [3.5], [3.5]]
    assert not torch.equal(lin.weight.detach(), torch.tensor([[1.0, 2.0]]))  # the module is untouched
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval(f"torch::functional_call {m} [list nosuch {w}] {x}")
    assert "not a parameter or buffer" in str(info.value)


def test_grad_checks(tcl):
    x = tcl.put(torch.tensor([0.5, 1.5]))
    tcl.eval("proc cube {t} { torch::tensor_sum [torch::tensor_pow $t 3] }")
    assert tcl.eval(f"torch::grad_check cube {x}") == "1"
    assert float(tcl.eval(f"torch::grad_check_finite_diff cube {x}")) < 1e-6


@pytest.mark.parametrize("cmd,mode", [("no_grad", False), ("enable_grad", True)])
def test_grad_modes_scripts_restore_the_mode(tcl, cmd, mode):
    x = tcl.put(torch.ones(2, requires_grad=True))
    torch.set_grad_enabled(not mode)
    try:
        assert tcl.eval(f"torch::{cmd} {{torch::tensor_requires_grad [torch::tensor_mul {x} 2]}}") == str(
            int(mode)
        )
        assert torch.is_grad_enabled() is (not mode)
        with pytest.raises(tcltorch.TclError):
            tcl.eval(f"torch::{cmd} {{error boom}}")
        assert torch.is_grad_enabled() is (not mode)
        tcl.eval(f"proc p {{}} {{ torch::{cmd} {{ return [torch::is_grad_enabled] }} }}")
        assert tcl.eval("p") == str(int(mode))
        assert torch.is_grad_enabled() is (not mode)
    finally:
        torch.set_grad_enabled(True)


def test_global_switches(tcl):
    try:
        tcl.eval("torch::no_grad")
        assert tcl.eval("torch::is_grad_enabled") == "0"
        tcl.eval("torch::enable_grad")
        assert tcl.eval("torch::isGradEnabled") == "1"
        tcl.eval("torch::set_grad_enabled 0")
        assert not torch.is_grad_enabled()
        assert tcl.eval("torch::set_grad_enabled 1 {torch::is_grad_enabled}") == "1"
        assert not torch.is_grad_enabled()
    finally:
        torch.set_grad_enabled(True)


def test_inference_mode(tcl):
    x = tcl.put(torch.ones(2, requires_grad=True))
    t = tcl.eval(f"torch::inference_mode {{torch::tensor_mul {x} 2}}")
    assert tcl.get(t).is_inference()
    assert not torch.is_inference_mode_enabled()


def test_threads(tcl):
    old = torch.get_num_threads()
    try:
        assert tcl.eval("torch::set_num_threads 1") == "1"
        assert torch.get_num_threads() == 1
        assert tcl.eval("torch::get_num_threads") == "1"
        with pytest.raises(tcltorch.TclError) as info:
            tcl.eval("torch::set_num_threads 0")
        assert info.value.errorcode == ["TORCH", "VALUE", "-threads"]
    finally:
        torch.set_num_threads(old)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the errors of a machine without CUDA")
@pytest.mark.parametrize(
    "script",
    [
        "torch::cuda_device_info",
        "torch::cuda_memory_info",
        "torch::memory_snapshot",
        "torch::synchronize",
        "torch::memory_stats cuda",
        "torch::layer_cuda [torch::linear 2 2]",
    ],
)
def test_cuda_only_commands_fail_clearly_without_cuda(tcl, script):
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval(script)
    assert "CUDA" in str(info.value) and "not available" in str(info.value)
    assert tcl.eval("torch::cuda_is_available") == "0" and tcl.eval("torch::cuda_device_count") == "0"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_empty_cache_without_cuda_is_a_no_op_as_in_torch(tcl):
    # torch.cuda.empty_cache() does nothing before CUDA is used: there is no cache to release
    assert tcl.eval("torch::empty_cache") == "" and tcl.eval("torch::empty_cache cuda") == ""


def test_devices_of_modules_and_tensors(tcl):
    m = tcl.eval("torch::linear 2 3")
    assert tcl.eval(f"torch::layer_device {m}") == "cpu"
    assert tcl.eval(f"torch::layer_cpu {m}") == m
    assert tcl.eval("torch::tensor_is_cuda [torch::zeros 2]") == "0"
    assert tcl.eval(f"torch::parameters_to {m} cpu") == m
    assert tcl.eval("torch::synchronize cpu") == ""


def test_memory_stats_count_handle_bytes(tcl):
    tcl.eval("set big [torch::zeros {1000 250}]")  # 1 MB of float32
    stats = dict(zip(*[iter(tcl.eval("torch::memory_stats").split())] * 2))
    assert int(stats["tensor_bytes"]) >= 1_000_000 and int(stats["rss_bytes"]) > 0
    assert "tensors by handle" in tcl.eval("torch::memory_summary")


def test_benchmark_frees_what_the_script_makes(tcl):
    before = len(tcl.handles())
    result = tcl.eval("torch::benchmark {torch::zeros {10 10}} -iterations 3 -warmup 0")
    stats = dict(zip(*[iter(result.split())] * 2))
    assert stats["iterations"] == "3" and 0 < float(stats["min"]) <= float(stats["max"])
    assert len(tcl.handles()) == before


def test_profiler_writes_a_chrome_trace(tcl, tmp_path):
    trace = tmp_path / "trace.json"
    tcl.eval(f"torch::profiler_start -file {trace}")
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval("torch::profiler_start")
    assert "already running" in str(info.value)
    tcl.eval("torch::scope {torch::tensor_matmul [torch::ones {8 8}] [torch::ones {8 8}]}")
    table = tcl.eval("torch::profiler_stop")
    assert "aten::" in table
    events = json.loads(trace.read_text())["traceEvents"]
    assert any("aten::" in e.get("name", "") for e in events)
    with pytest.raises(tcltorch.TclError):
        tcl.eval("torch::profiler_stop")


@pytest.mark.parametrize("host", ["console", "tclsh"])
def test_set_num_threads_takes_effect_in_every_host(tmp_path, host):
    from conftest import run_console, run_tclsh

    script = "package require tcltorch\ntorch::set_num_threads 1\nputs [torch::get_num_threads]\n"
    if host == "console":
        path = tmp_path / "threads.tcl"
        path.write_text(script)
        proc = run_console(str(path), timeout=120)
    else:
        proc = run_tclsh(script, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "1"
