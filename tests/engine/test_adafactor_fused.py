"""The fused native CPU step of tcltorch.optim.Adafactor against the reference maths.

Every option set, float32/bfloat16/float16 and every shape class (0-d, 1-d, 2-d, 3-d, tiny, and
tensors large enough to be shared by all threads); the fallback to foreach (non-contiguous,
float64, missing library); threads, baseline kernels, the RMS(X) cache; the toolkit's
clip/skipNonFinite options on top; the large-tensor accuracy of every implementation; start-up
without torch._dynamo.
"""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch

import tcltorch.optim.adafactor as engine
from tcltorch.optim import Adafactor

pytestmark = pytest.mark.skipif(
    engine.fused_unavailable() is not None, reason=str(engine.fused_unavailable())
)

OPTIONS = [
    {},
    {"beta1": 0.9, "weight_decay": 0.1},
    {"maximize": True, "beta1": 0.0},
    {"scale_parameter": False, "relative_step": False, "lr": 0.05},
    {"warmup_init": True, "decay_rate": 0.5, "clip_threshold": 0.5},
    {"eps2": 1e-3, "eps_scale": 2.0, "decay_rate": -0.3},
    {"eps2": 0.0, "clip_threshold": 1e-3, "weight_decay": 0.5, "beta1": 0.5, "maximize": True},
]
# 0-d, 1-d, 2-d, 3-d, 4-d, tiny; then two shared by all threads (> 2**18 elements): 2-d and 1-d
SHAPES = [(), (7,), (5, 5), (4, 3, 5), (2, 3, 4, 6), (1, 1), (1, 17), (9, 1), (520, 520), (270000,)]
TOL = {torch.float32: 5e-6, torch.bfloat16: 1.6e-2, torch.float16: 2e-3}  # about one ulp in 16 bits
DTYPES = list(TOL)


def run_adafactor(impl, shapes, dtype, steps=3, seed=0, params=None, **options):
    gen = torch.Generator().manual_seed(seed)
    if params is None:
        params = [torch.nn.Parameter(torch.randn(s, generator=gen).to(dtype)) for s in shapes]
    opt = Adafactor(params, implementation=impl, **options)
    gen = torch.Generator().manual_seed(seed + 1)
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen).to(p.dtype)
        opt.step()
    return params, opt


def assert_close(a_params, b_params, tol, a_opt=None, b_opt=None):
    for a, b in zip(a_params, b_params):
        scale = max(1.0, a.detach().abs().max().item())
        assert (a.double() - b.double()).abs().max().item() <= tol * scale, a.shape
        if a_opt is not None:
            for key, sa in a_opt.state[a].items():
                if isinstance(sa, torch.Tensor):
                    sb = b_opt.state[b][key]
                    err = (sa.double() - sb.double()).abs().max().item()
                    assert err <= 1e-5 * max(sa.abs().max().item(), 1e-30), (a.shape, key)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "defaults")
def test_fused_agrees_with_reference(options, dtype):
    ref, ref_opt = run_adafactor("reference", SHAPES, dtype, **options)
    got, opt = run_adafactor("fused", SHAPES, dtype, **options)
    assert opt.last_implementation == "fused"
    assert_close(ref, got, TOL[dtype], ref_opt, opt)
    assert opt.state_bytes() == ref_opt.state_bytes()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("shape", [(700, 500), (3, 300, 400), (300000,)], ids=str)
def test_a_tensor_shared_by_all_threads_agrees(shape, dtype):
    """A group that is mostly one large tensor: all threads share its rows (one barrier)."""
    options = {"beta1": 0.9, "weight_decay": 0.1, "maximize": True}
    ref, ref_opt = run_adafactor("reference", [shape, (7,)], dtype, **options)
    got, opt = run_adafactor("fused", [shape, (7,)], dtype, **options)
    assert_close(ref, got, TOL[dtype], ref_opt, opt)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("eps2", [1e-30, 0.0])
def test_zero_gradients_change_nothing(dtype, eps2):
    params = [torch.nn.Parameter(torch.randn(s).to(dtype)) for s in SHAPES]
    before = [p.detach().clone() for p in params]
    opt = Adafactor(params, eps2=eps2, beta1=0.9, weight_decay=0.0, implementation="fused")
    for _ in range(2):
        for p in params:
            p.grad = torch.zeros_like(p)
        opt.step()
    for p, b in zip(params, before):
        assert torch.equal(p.detach(), b)
    assert all(
        torch.isfinite(t).all()
        for st in opt.state.values()
        for t in st.values()
        if isinstance(t, torch.Tensor)
    )


def test_auto_takes_the_fused_path_and_info_says_so():
    _, opt = run_adafactor("auto", [(3, 4), (5,)], torch.float32, steps=1)
    assert opt.resolved_implementation() == "fused" and opt.last_implementation == "fused"


def test_what_fused_cannot_take_goes_to_foreach():
    """Non-contiguous and float64 tensors fall back; the others still go through the native step."""

    def make():
        g = torch.Generator().manual_seed(3)
        return [
            torch.nn.Parameter(torch.randn(12, 7, generator=g).t()),  # transposed view
            torch.nn.Parameter(torch.randn(5, 6, generator=g, dtype=torch.float64)),
            torch.nn.Parameter(torch.randn(8, 9, generator=g)),
            torch.nn.Parameter(torch.randn(10, generator=g)),
        ]

    ref, _ = run_adafactor("reference", None, None, params=make(), beta1=0.9)
    got, opt = run_adafactor("fused", None, None, params=make(), beta1=0.9)
    assert opt.last_implementation == "foreach+fused"
    for a, b in zip(ref, got):
        tol = 1e-12 if a.dtype == torch.float64 else 5e-6
        assert (a.double() - b.double()).abs().max().item() <= tol * max(1.0, a.abs().max().item())


def test_missing_library_falls_back_to_foreach(monkeypatch):
    monkeypatch.setattr(engine.fused, "_NATIVE", [None, "not built (test)"])
    assert engine.fused_unavailable() == "not built (test)"
    got, opt = run_adafactor("fused", SHAPES[:8], torch.float32, beta1=0.9, weight_decay=0.1)
    assert opt.resolved_implementation() == "foreach" and opt.last_implementation == "foreach"
    want, _ = run_adafactor("foreach", SHAPES[:8], torch.float32, beta1=0.9, weight_decay=0.1)
    assert all(torch.equal(a, b) for a, b in zip(got, want))
    _, auto = run_adafactor("auto", [(3, 3)], torch.float32, steps=1)
    assert auto.last_implementation == "foreach"


# rows of a multiple of 32 below a sum block (the rows kernel), of 16 + 8, of 16 + 7, a long vector
KERNEL_SHAPES = [(64, 96), (33, 40), (5, 39), (3000,)]


def test_threads_and_baseline_kernels_agree(monkeypatch):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one, _ = run_adafactor("fused", SHAPES, torch.float32, beta1=0.5)
    finally:
        torch.set_num_threads(threads)
    many, _ = run_adafactor("fused", SHAPES, torch.float32, beta1=0.5)
    assert_close(one, many, 1e-6)
    results = {}
    for limit in ("baseline", "avx2", "best"):  # best: AVX-512 where the CPU has it
        monkeypatch.setattr(engine.fused, "_KERNELS", limit)
        for dtype in (torch.float32, torch.float16):
            results[limit, dtype], _ = run_adafactor("fused", SHAPES + KERNEL_SHAPES, dtype, beta1=0.5)
    for limit in ("avx2", "best"):
        assert_close(results["baseline", torch.float32], results[limit, torch.float32], 1e-6)
        assert_close(results["baseline", torch.float16], results[limit, torch.float16], TOL[torch.float16])


def test_kernel_variants_are_named():
    """The widest kernels this CPU runs under each limit, as the benchmarks print them."""
    have = engine.fused_variant()
    assert have in ("avx512", "avx2", "baseline")
    assert engine.fused_variant("baseline") == "baseline"
    assert engine.fused_variant("avx2") == ("baseline" if have == "baseline" else "avx2")
    if torch.backends.cpu.get_cpu_capability() == "AVX512":  # torch's own check of the CPU and OS
        assert have == "avx512"


def test_parameter_norm_is_reread_after_an_outside_write():
    """RMS(X) is reused from the previous write only while nobody else wrote X."""
    shapes = [(520, 520), (6, 7), (9,)]
    results = {}
    for impl in ("reference", "fused"):
        gen = torch.Generator().manual_seed(4)
        params = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]
        opt = Adafactor(params, implementation=impl)
        for t in range(4):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen)
            version = params[0]._version
            opt.step()
            assert params[0]._version > version  # autograd sees the in-place write
            if t == 1:
                with torch.no_grad():
                    for p in params:
                        p.mul_(3.0)  # bumps the version counter: the cached norm is stale
        results[impl] = params
    assert_close(results["reference"], results["fused"], 5e-6)


def test_state_dict_resume_matches(tmp_path):
    full, _ = run_adafactor("fused", SHAPES, torch.bfloat16, steps=4, beta1=0.9)
    params, opt = run_adafactor("fused", SHAPES, torch.bfloat16, steps=2, beta1=0.9)
    saved = opt.state_dict()
    again = [torch.nn.Parameter(p.detach().clone()) for p in params]
    resumed = Adafactor(again, beta1=0.9, implementation="fused")
    resumed.load_state_dict(saved)
    gen = torch.Generator().manual_seed(1)
    for _ in range(2):  # the gradients of steps 1 and 2 first, as run_adafactor() drew them
        for p in again:
            torch.randn(p.shape, generator=gen)
    for _ in range(2):
        for p in again:
            p.grad = torch.randn(p.shape, generator=gen).to(p.dtype)
        resumed.step()
    assert_close(full, again, TOL[torch.bfloat16])


def test_step_reads_nothing_back_from_tensors(monkeypatch):
    params, opt = run_adafactor("fused", SHAPES, torch.float32, steps=1, beta1=0.9, weight_decay=0.1)
    reads = []
    for p in params:
        p.grad = torch.randn_like(p)
    with monkeypatch.context() as patch:
        for name in ("item", "tolist", "__bool__", "__float__", "__int__", "__index__"):
            original = getattr(torch.Tensor, name)
            patch.setattr(
                torch.Tensor,
                name,
                lambda self, *a, _n=name, _o=original, **k: reads.append(_n) or _o(self, *a, **k),
            )
        opt.step()
    assert reads == []


@pytest.mark.parametrize(
    "options", [{"clip_norm": 0.5}, {"global_clip_norm": 1.0}, {"skip_non_finite": True}]
)
def test_toolkit_options_apply_to_the_fused_step(options):
    from tcltorch.optim import extras

    results = {}
    for impl in ("reference", "fused"):
        gen = torch.Generator().manual_seed(6)
        params = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in [(520, 520), (6, 7), (9,)]]
        opt = extras.attach(Adafactor(params, implementation=impl), **options)
        for t in range(3):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen)
            if t == 1:
                params[1].grad[0, 0] = float("nan")
            opt.step()
        results[impl] = params
    if "skip_non_finite" not in options:  # NaN everywhere (global) or in one tensor, alike in both
        for a, b in zip(*results.values()):
            assert torch.equal(a.isnan(), b.isnan())
        return
    assert_close(results["reference"], results["fused"], 5e-6)
    assert all(torch.isfinite(p).all() for p in results["fused"])


@pytest.fixture(scope="module")
def gpt2_embedding():
    """Three steps on a 50257x768 float32 parameter, and the same computation in float64."""
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(50257, 768, generator=gen) * 0.02
    grads = [torch.randn(50257, 768, generator=gen) * 1e-3 for _ in range(3)]
    p = torch.nn.Parameter(x0.double())
    opt = Adafactor([p], implementation="reference")
    for g in grads:
        p.grad = g.double()
        opt.step()
    return x0, grads, p.detach()


@pytest.mark.slow  # a GPT-2-sized (50257x768) parameter, torch.compile included
@pytest.mark.parametrize("impl", ["fused", "foreach", "reference", "compiled"])
def test_large_tensor_matches_float64(gpt2_embedding, impl):
    x0, grads, exact = gpt2_embedding
    p = torch.nn.Parameter(x0.clone())
    opt = Adafactor([p], implementation=impl)
    for g in grads:
        p.grad = g
        opt.step()
    if impl == "compiled" and opt.last_implementation != "compiled":
        why = str(engine._COMPILE_BROKEN[0])[:300] if engine._COMPILE_BROKEN else "?"
        pytest.skip(f"torch.compile does not work here (the step ran {opt.last_implementation}: {why})")
    update = (exact - x0.double()).abs().max().item()
    err = (p.detach().double() - exact).abs().max().item() / update
    assert err <= 1e-5, f"{impl}: {err:.2e} of the update"


def test_first_optimizer_does_not_import_dynamo():
    code = (
        "import sys, torch\n"
        "from tcltorch.optim import Adafactor\n"
        "p = torch.nn.Parameter(torch.ones(3, 4)); o = Adafactor([p])\n"
        "p.grad = torch.ones(3, 4); o.step(); o.zero_grad(); o.load_state_dict(o.state_dict())\n"
        "o.add_param_group({'params': [torch.nn.Parameter(torch.ones(2))]})\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _changes(params, opt, t, gen):
    """What a training loop (or its user) may change between steps, one kind per step."""
    with torch.no_grad():
        if t == 3:  # a gradient that is a transposed view: that tensor goes to foreach this step
            params[2].grad = torch.randn(params[2].shape[::-1], generator=gen).t()
        elif t == 4:  # a parameter without a gradient: its step count stays behind
            params[1].grad = None
        elif t == 5:  # new storage for a parameter (same shape)
            params[0].data = params[0].detach().clone()
        elif t == 6:  # other options
            opt.param_groups[0]["beta1"] = 0.9
            opt.param_groups[0]["weight_decay"] = 0.1
        elif t == 7:  # a state tensor replaced by an equal one, the old one still alive
            st = opt.state[params[0]]
            st["row"] = st["row"].clone()
        elif t == 8:  # an outside write of a parameter (its cached norm is stale)
            params[3].mul_(0.5)
        elif t == 9:  # the step counts put back (as a failed step's rollback does)
            for p in params:
                opt.state[p]["step"] -= 1


def test_prepared_plan_follows_every_change_between_steps():
    """From the second step on a group's native call is prepared once (fused.make_plan); every
    change a loop can make between steps still gives the reference's numbers."""
    shapes = [(40, 30), (7,), (6, 5), (3, 4, 5), ()]
    results = {}
    for impl in ("reference", "fused"):
        gen = torch.Generator().manual_seed(9)
        params = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]
        opt = Adafactor(params, implementation=impl)
        for t in range(11):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen)
            _changes(params, opt, t, gen)
            opt.step()
            if impl == "fused" and t in (1, 2, 10):  # steady state: the plan is there and used
                assert opt.last_implementation == "fused"
                assert list(opt._fused_plans) == [id(opt.param_groups[0])]
        results[impl] = (params, opt)
    (ref, ref_opt), (got, opt) = results["reference"], results["fused"]
    assert_close(ref, got, 5e-6, ref_opt, opt)
    assert [opt.state[p]["step"] for p in got] == [ref_opt.state[p]["step"] for p in ref]


def test_plan_is_dropped_by_load_state_dict():
    params, opt = run_adafactor("fused", [(8, 6), (5,)], torch.float32, steps=3)
    assert opt._fused_plans
    saved = opt.state_dict()
    ref = [torch.nn.Parameter(p.detach().clone()) for p in params]
    ref_opt = Adafactor(ref, implementation="reference")
    ref_opt.load_state_dict(saved)
    opt.load_state_dict(saved)
    for _ in range(2):
        for a, b in zip(params, ref):
            a.grad = torch.randn_like(a)
            b.grad = a.grad.clone()
        opt.step()
        ref_opt.step()
    assert_close(ref, params, 5e-6, ref_opt, opt)


@pytest.mark.parametrize("threads", [1, 2])
def test_short_rows_and_pipelined_tensors_agree(threads):
    """Rows of 32..224 float32 elements (several rows per kernel call), a tensor larger than the
    pipeline takes (its pass 2 alone, back to front) among small ones, one thread and two."""
    shapes = [(2100, 1001), (40, 64), (3, 5, 96), (9, 32), (33, 224), (70,), (8, 128)]
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for options in ({}, {"beta1": 0.9, "weight_decay": 0.1, "maximize": True}):
            ref, ref_opt = run_adafactor("reference", shapes, torch.float32, **options)
            got, opt = run_adafactor("fused", shapes, torch.float32, **options)
            assert opt.last_implementation == "fused"
            assert_close(ref, got, 5e-6, ref_opt, opt)
    finally:
        torch.set_num_threads(old)


def test_plans_of_replaced_groups_are_dropped():
    params, opt = run_adafactor("fused", [(8, 6), (5,)], torch.float32, steps=2)
    (old,) = opt._fused_plans
    opt.load_state_dict(opt.state_dict())  # new group dicts
    for p in params:
        p.grad = torch.randn_like(p)
    opt.step()
    assert list(opt._fused_plans) == [id(opt.param_groups[0])] != [old]


# a rows-kernel width (64), a width that is not (96: 32 * 3, a fold per row all the same), a long
# row (300), rank-1 ones, and one past the back-to-front threshold (2100 * 1024 > 2M elements; with
# two threads the tensor shared by both)
# (and many small ones: a norm summed another way is off by an ulp or so, which changes a step only
# now and then)
RESUME_SHAPES = [(128, 64), (96, 96), (10, 300), (130,), (5000,), (2100, 1024)]
RESUME_SHAPES += [(8, 64), (5, 96), (300,)] * 40


@pytest.mark.parametrize("kernels", ["baseline", "avx2", "best"])
@pytest.mark.parametrize("threads", [1, 2])
def test_a_resumed_run_takes_the_steps_of_one_that_never_stopped(monkeypatch, kernels, threads):
    """Exactly: a step reuses ||X||^2 from the previous step's write, and after a checkpoint is
    loaded the first step computes it from X; both are the same double (its units summed in
    double-double: tt_dd in _fused_adafactor.c), so the resumed run's parameters are equal."""
    monkeypatch.setattr(engine.fused, "_KERNELS", kernels)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)

    def fresh():
        gen = torch.Generator().manual_seed(1)
        return [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in RESUME_SHAPES]

    def run(params, opt, steps):
        for step in steps:
            gen = torch.Generator().manual_seed(100 + step)
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen)
            opt.step()
        assert opt.last_implementation == "fused"

    try:
        straight = fresh()
        run(straight, Adafactor(straight, implementation="fused"), range(4))
        first = fresh()
        opt = Adafactor(first, implementation="fused")
        run(first, opt, range(3))
        state, weights = copy.deepcopy((opt.state_dict(), [p.detach() for p in first]))
        resumed = [torch.nn.Parameter(w) for w in weights]
        again = Adafactor(resumed, implementation="fused")
        again.load_state_dict(state)
        run(resumed, again, [3])
    finally:
        torch.set_num_threads(threads_before)
    assert all(torch.equal(a, b) for a, b in zip(straight, resumed))
