"""tcltorch.optim.Adafactor, the pure-PyTorch engine: numbers, memory, state, options, paths.

Needs torch only. The HF transformers / Keras 3 references are recorded trajectories in
tests/data/adafactor_golden.json (see tests/data/ADAFACTOR_GOLDEN.md and
tools/record_adafactor_golden.py); torch.optim.Adafactor is compared live.
"""

from __future__ import annotations

import ast
import copy
import io
import json
import math
from pathlib import Path

import pytest
import torch

import tcltorch.optim.adafactor as engine
from tcltorch.optim import IMPLEMENTATIONS, Adafactor

DATA = Path(__file__).resolve().parents[1] / "data" / "adafactor_golden.json"
GOLDEN = json.loads(DATA.read_text())
SHAPES = [tuple(s) for s in GOLDEN["shapes"]]  # (5,5), (3,3), (7,), (4,3,5), ()
EAGER = ("reference", "foreach")


# --------------------------------------------------------------------------- helpers


def golden_tensor(flat: list[float], shape, dtype) -> torch.Tensor:
    # stored as float32 decimals: parse as float32, then cast (exact for float64)
    return torch.tensor(flat, dtype=torch.float32).reshape(shape).to(dtype)


def golden_params(dtype):
    return [torch.nn.Parameter(golden_tensor(x, s, dtype)) for x, s in zip(GOLDEN["init"], SHAPES)]


def golden_grad(step: int, i: int, dtype):
    return golden_tensor(GOLDEN["grads"][step - 1][i], SHAPES[i], dtype)


def run_golden_inputs(make_opt, dtype, steps=20, missing=None, record=()):
    """Drive an optimizer over the recorded inputs; return {step: [param copies]} for `record`."""
    params = golden_params(dtype)
    opt = make_opt(params)
    out = {}
    for t in range(1, steps + 1):
        for i, p in enumerate(params):
            skip = missing is not None and t in missing.get(i, ())
            p.grad = None if skip else golden_grad(t, i, dtype)
        opt.step()
        if t in record or t == steps:
            out[t] = [p.detach().clone() for p in params]
    return out, params, opt


def random_run(make_opt, shapes, dtype=torch.float32, steps=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    params = [
        torch.nn.Parameter(torch.randn(s, generator=gen, dtype=torch.float64).to(dtype)) for s in shapes
    ]
    opt = make_opt(params)
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen, dtype=torch.float64).to(dtype)
        opt.step()
    return params, opt


def max_diff(a, b) -> float:
    return max((x.double() - y.double()).abs().max().item() if x.numel() else 0.0 for x, y in zip(a, b))


# --------------------------------------------------------------------------- torch.optim.Adafactor

# Our options that compute what torch.optim.Adafactor computes (docs/research/adafactor_anchors.md):
#   ours lr=γ               <-> torch lr=γ            (both: ρ_t = min(γ, 1/√t), γ is a cap)
#   ours eps2=1e-30         <-> torch eps=(None, ·)   (torch clamps V at eps1 instead of adding eps1
#                                                      to G²; with N(0,1) gradients neither binds)
#   ours eps_scale=ε        <-> torch eps=(·, ε)      (floor of the parameter scale)
#   ours clip_threshold=d   <-> torch d=d             (torch requires d >= 1)
#   ours decay_rate=-1.0    <-> torch beta2_decay=-0.8; other negatives map as they are
#   ours scale_parameter=True, relative_step=True (torch has no switch for either)
#   ours beta1 off, weight_decay=0: torch has no momentum, and decays by λ·lr, not λ·α_t.
TORCH_EQUIVALENTS = [
    ({}, {}),
    ({"decay_rate": -0.5}, {"beta2_decay": -0.5}),
    ({"clip_threshold": 2.0}, {"d": 2.0}),
    ({"eps_scale": 0.5}, {"eps": (None, 0.5)}),
    ({"maximize": True}, {"maximize": True}),
]


@pytest.mark.parametrize("impl", EAGER)
@pytest.mark.parametrize("lr", [0.8, 0.01])
def test_defaults_match_torch_optim_float32(impl, lr):
    ours, _, _ = run_golden_inputs(lambda ps: Adafactor(ps, lr=lr, implementation=impl), torch.float32)
    ref, _, _ = run_golden_inputs(lambda ps: torch.optim.Adafactor(ps, lr=lr), torch.float32)
    assert max_diff(ours[20], ref[20]) <= 3e-6


@pytest.mark.parametrize("impl", EAGER)
@pytest.mark.parametrize("ours_kw,torch_kw", TORCH_EQUIVALENTS)
def test_options_match_torch_optim_float64(impl, ours_kw, torch_kw):
    ours, _, _ = run_golden_inputs(
        lambda ps: Adafactor(ps, lr=0.8, implementation=impl, **ours_kw), torch.float64
    )
    ref, _, _ = run_golden_inputs(lambda ps: torch.optim.Adafactor(ps, lr=0.8, **torch_kw), torch.float64)
    assert max_diff(ours[20], ref[20]) <= 1e-13


# --------------------------------------------------------------------------- golden trajectories


@pytest.mark.parametrize("impl", EAGER)
@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[c["name"] for c in GOLDEN["cases"]])
def test_golden_trajectory(case, impl):
    dtype = getattr(torch, case["dtype"])
    missing = {int(k): set(v) for k, v in case["missing_grad"].items()}
    checkpoints = [int(t) for t in case["trajectory"]]
    got, _, _ = run_golden_inputs(
        lambda ps: Adafactor(ps, implementation=impl, **case["options"]),
        dtype,
        missing=missing,
        record=checkpoints,
    )
    for t in checkpoints:
        for i, (mine, ref) in enumerate(zip(got[t], case["trajectory"][str(t)])):
            ref = torch.tensor(ref, dtype=torch.float64).reshape(SHAPES[i])
            tol = case["atol"] + case["rtol"] * ref.abs()
            assert ((mine.double() - ref).abs() <= tol).all(), (case["name"], t, SHAPES[i])


def test_positive_decay_rate_means_the_same_exponent():
    """decay_rate=0.5 and decay_rate=-0.5 both mean c = 0.5 (the HF decay_rate=-0.5 golden)."""
    case = next(c for c in GOLDEN["cases"] if c["name"] == "hf_decay_rate_0.5")
    got, _, _ = run_golden_inputs(lambda ps: Adafactor(ps, lr=0.8, decay_rate=0.5), torch.float64)
    ref = [torch.tensor(x, dtype=torch.float64).reshape(s) for x, s in zip(case["trajectory"]["20"], SHAPES)]
    assert max_diff(got[20], ref) <= 1e-12
    assert engine.decay_exponent(-1.0) == 0.8
    assert engine.decay_exponent(-0.5) == engine.decay_exponent(0.5) == 0.5


def test_warmup_init_applies_only_to_the_relative_step():
    """docs/adafactor.md: without relative_step, rho_t = lr whatever warmup_init says."""
    a, _ = random_run(lambda ps: Adafactor(ps, lr=0.05, relative_step=False, warmup_init=True), SHAPES)
    b, _ = random_run(lambda ps: Adafactor(ps, lr=0.05, relative_step=False), SHAPES)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert engine.relative_step_size(0.8, 4, True, True) == 4e-6
    assert engine.relative_step_size(0.8, 4, True, False) == 0.5
    assert engine.relative_step_size(0.3, 4, True, False) == 0.3


# --------------------------------------------------------------------------- step counts


@pytest.mark.parametrize("impl", EAGER)
def test_missing_gradient_keeps_per_parameter_step_counts(impl):
    missing = {2: {3, 4}}
    got, params, opt = run_golden_inputs(
        lambda ps: Adafactor(ps, lr=0.01, implementation=impl),
        torch.float64,
        steps=4,
        missing=missing,
        record=(2,),
    )
    assert [opt.state[p]["step"] for p in params] == [4, 4, 2, 4, 4]
    assert torch.equal(got[2][2], got[4][2])  # no gradient: the (7,) tensor did not move


# --------------------------------------------------------------------------- zero grads, low precision


@pytest.mark.parametrize("impl", EAGER)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("eps2", [1e-30, 0.0])
def test_zero_gradients_change_nothing(impl, dtype, eps2):
    gen = torch.Generator().manual_seed(3)
    params = [torch.nn.Parameter(torch.randn(s, generator=gen).to(dtype)) for s in SHAPES]
    before = [p.detach().clone() for p in params]
    opt = Adafactor(params, eps2=eps2, beta1=0.9, weight_decay=0.0, implementation=impl)
    for _ in range(3):
        for p in params:
            p.grad = torch.zeros_like(p)
        opt.step()
    for p, b in zip(params, before):
        assert torch.equal(p.detach(), b)
    for st in opt.state.values():
        assert all(torch.isfinite(t).all() for t in st.values() if isinstance(t, torch.Tensor))


@pytest.mark.parametrize("impl", EAGER)
def test_bfloat16_moves_like_float32(impl):
    """bf16 params, grads ~1e-3: the update RMS is within a few % of the float32 run (torch: ~9x smaller)."""

    def moved(dtype):
        gen = torch.Generator().manual_seed(0)
        w = (torch.randn(256, 256, generator=gen) * 0.02).to(dtype)
        b = (torch.randn(256, generator=gen) * 0.02).to(dtype)
        params = [torch.nn.Parameter(w.clone()), torch.nn.Parameter(b.clone())]
        opt = Adafactor(params, lr=0.01, implementation=impl)
        for p in params:
            p.grad = (torch.randn(p.shape, generator=gen) * 1e-3).to(dtype)
        opt.step()
        assert all(
            t.dtype == torch.float32
            for st in opt.state.values()
            for t in st.values()
            if isinstance(t, torch.Tensor)
        )
        delta = torch.cat([(p.detach().float() - x.float()).reshape(-1) for p, x in zip(params, (w, b))])
        return delta.square().mean().sqrt().item()

    rms32, rms16 = moved(torch.float32), moved(torch.bfloat16)
    assert rms32 > 1e-4
    assert abs(rms16 / rms32 - 1) < 0.05


# --------------------------------------------------------------------------- memory


def expected_state_bytes(shapes, dtype, momentum: bool) -> int:
    size = torch.tensor([], dtype=engine.compute_dtype(dtype)).element_size()
    total = 0
    for s in shapes:
        numel = math.prod(s)
        if len(s) >= 2:
            total += math.prod(s[:-1]) + math.prod(s[:-2]) * s[-1]
        else:
            total += numel
        if momentum:
            total += numel
    return total * size


@pytest.mark.parametrize("impl", EAGER)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("beta1", [-1.0, 0.9])
def test_state_bytes_is_rows_plus_cols(impl, dtype, beta1):
    shapes = SHAPES + [(2, 3, 4, 6)]
    params, opt = random_run(
        lambda ps: Adafactor(ps, beta1=beta1, implementation=impl), shapes, dtype=dtype, steps=2
    )
    assert opt.state_bytes() == expected_state_bytes(shapes, dtype, beta1 >= 0)
    if beta1 < 0:  # nothing of a factored parameter's size survives the step
        for p in params:
            if p.dim() >= 2:
                tensors = [t for t in opt.state[p].values() if isinstance(t, torch.Tensor)]
                assert all(t.numel() < p.numel() for t in tensors)


def test_state_bytes_of_a_linear_layer():
    """W(1024,1024)+b(1024) in float32: 12,288 bytes, ~0.003x the parameters (torch: 12,296 with steps)."""
    w = torch.nn.Parameter(torch.zeros(1024, 1024))
    b = torch.nn.Parameter(torch.zeros(1024))
    opt = Adafactor([w, b])
    w.grad, b.grad = torch.ones_like(w), torch.ones_like(b)
    opt.step()
    assert opt.state_bytes() == (1024 + 1024 + 1024) * 4
    assert sorted(opt.state[w]) == ["col", "row", "step"] and sorted(opt.state[b]) == ["step", "v"]


def test_exp_avg_follows_beta1():
    params, opt = random_run(lambda ps: Adafactor(ps, beta1=0.9), [(4, 5), (3,)], steps=1)
    assert all("exp_avg" in opt.state[p] for p in params)
    opt.param_groups[0]["beta1"] = -1.0
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    assert not any("exp_avg" in opt.state[p] for p in params)
    assert opt.state_bytes() == expected_state_bytes([(4, 5), (3,)], torch.float32, False)


# --------------------------------------------------------------------------- state_dict, groups


def grouped_optimizer(params, impl):
    mats = [p for p in params if p.dim() >= 2]
    vecs = [p for p in params if p.dim() < 2]
    return Adafactor(
        [{"params": mats, "beta1": 0.9, "weight_decay": 0.01}, {"params": vecs, "lr": 0.1}],
        implementation=impl,
    )


@pytest.mark.parametrize("impl", EAGER)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_state_dict_resume_is_bit_identical(impl, dtype):
    gen = torch.Generator().manual_seed(7)
    init = [torch.randn(s, generator=gen).to(dtype) for s in SHAPES]
    grads = [[torch.randn(s, generator=gen).to(dtype) for s in SHAPES] for _ in range(12)]

    def steps(params, opt, ts):
        for t in ts:
            for p, g in zip(params, grads[t]):
                p.grad = None if (t == 7 and p.dim() == 1) else g.clone()
            opt.step()

    params = [torch.nn.Parameter(x.clone()) for x in init]
    opt = grouped_optimizer(params, impl)
    steps(params, opt, range(6))
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    snapshot = [p.detach().clone() for p in params]
    steps(params, opt, range(6, 12))

    resumed = [torch.nn.Parameter(x.clone()) for x in snapshot]
    opt2 = grouped_optimizer(resumed, impl)
    buf.seek(0)
    opt2.load_state_dict(torch.load(buf))
    steps(resumed, opt2, range(6, 12))

    for a, b in zip(params, resumed):
        assert torch.equal(a, b)
    for a, b in zip(params, resumed):
        sa, sb = opt.state[a], opt2.state[b]
        assert sa.keys() == sb.keys() and sa["step"] == sb["step"]
        for k in sa:
            if isinstance(sa[k], torch.Tensor):
                assert sb[k].dtype == engine.compute_dtype(dtype) and torch.equal(sa[k], sb[k])


def test_param_groups_use_their_own_options():
    a, _ = random_run(lambda ps: grouped_optimizer(ps, "foreach"), SHAPES, steps=4)

    def separate(ps):
        mats = [p for p in ps if p.dim() >= 2]
        vecs = [p for p in ps if p.dim() < 2]
        o1 = Adafactor(mats, beta1=0.9, weight_decay=0.01, implementation="foreach")
        o2 = Adafactor(vecs, lr=0.1, implementation="foreach")

        class Both:
            def step(self):
                o1.step()
                o2.step()

        return Both()

    b, _ = random_run(separate, SHAPES, steps=4)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    c, _ = random_run(lambda ps: Adafactor(ps, implementation="foreach"), SHAPES, steps=4)
    assert max_diff(a, c) > 1e-3  # the group options did change something


# --------------------------------------------------------------------------- maximize


@pytest.mark.parametrize("impl", EAGER)
def test_maximize_keeps_grad_and_equals_descent_on_negated_grads(impl):
    gen = torch.Generator().manual_seed(11)
    init = [torch.randn(s, generator=gen) for s in SHAPES]
    grads = [[torch.randn(s, generator=gen) for s in SHAPES] for _ in range(5)]

    def run(maximize):
        params = [torch.nn.Parameter(x.clone()) for x in init]
        opt = Adafactor(params, beta1=0.5, weight_decay=0.1, maximize=maximize, implementation=impl)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = g.clone() if maximize else -g
            opt.step()
            if maximize:
                assert all(torch.equal(p.grad, g) for p, g in zip(params, step_grads))
        return params

    assert all(torch.equal(a, b) for a, b in zip(run(True), run(False)))


# --------------------------------------------------------------------------- validation

BAD_OPTIONS = [
    ("lr", 0.0),
    ("lr", -1.0),
    ("lr", float("inf")),
    ("lr", float("nan")),
    ("lr", "0.1"),
    ("lr", True),
    ("eps2", -1e-30),
    ("eps2", float("inf")),
    ("clip_threshold", 0.0),
    ("clip_threshold", -1.0),
    ("decay_rate", 0.0),
    ("decay_rate", 1.5),
    ("decay_rate", -1.5),
    ("decay_rate", float("nan")),
    ("beta1", 1.0),
    ("beta1", 1.5),
    ("beta1", float("-inf")),
    ("weight_decay", -0.1),
    ("weight_decay", float("nan")),
    ("eps_scale", -1.0),
    ("relative_step", 1),
    ("scale_parameter", "yes"),
    ("warmup_init", None),
    ("maximize", 0),
    ("implementation", "fast"),
]


@pytest.mark.parametrize("name,value", BAD_OPTIONS)
def test_invalid_option_raises_naming_it(name, value):
    p = torch.nn.Parameter(torch.zeros(2, 2))
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        Adafactor([p], **{name: value})
    if name != "implementation":
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            Adafactor([{"params": [p], name: value}])


@pytest.mark.parametrize(
    "kw",
    [
        {"beta1": -1.0},
        {"beta1": 0.0},
        {"beta1": -0.5},
        {"decay_rate": 1.0},
        {"decay_rate": -0.3},
        {"eps2": 0.0},
        {"eps_scale": 0.0},
        {"lr": 5},
        {"clip_threshold": 1e-3},
    ],
)
def test_edge_values_are_accepted(kw):
    opt = Adafactor([torch.nn.Parameter(torch.zeros(2))], **kw)
    ((key, value),) = kw.items()
    assert opt.param_groups[0][key] == value


def test_defaults_are_the_spec_defaults():
    opt = Adafactor([torch.nn.Parameter(torch.zeros(2))])
    group = {k: v for k, v in opt.param_groups[0].items() if k != "params"}
    assert group == {
        "lr": 0.8,
        "eps2": 1e-30,
        "clip_threshold": 1.0,
        "decay_rate": -1.0,
        "beta1": -1.0,
        "weight_decay": 0.0,
        "eps_scale": 1e-3,
        "relative_step": True,
        "scale_parameter": True,
        "warmup_init": False,
        "maximize": False,
    }
    assert opt.implementation == "auto"
    assert IMPLEMENTATIONS == ("auto", "reference", "foreach", "compiled", "fused")


def test_complex_and_sparse_are_rejected():
    z = torch.nn.Parameter(torch.zeros(2, dtype=torch.complex64))
    z.grad = torch.ones_like(z)
    with pytest.raises(RuntimeError, match="floating-point"):
        Adafactor([z]).step()
    s = torch.nn.Parameter(torch.zeros(3, 3))
    s.grad = torch.eye(3).to_sparse()
    with pytest.raises(RuntimeError, match="sparse"):
        Adafactor([s]).step()


# --------------------------------------------------------------------------- implementations agree

AGREE_OPTIONS = [
    {},
    {"beta1": 0.9, "weight_decay": 0.1},
    {"maximize": True, "beta1": 0.0},
    {"scale_parameter": False, "relative_step": False, "lr": 0.05},
    {"warmup_init": True, "decay_rate": 0.5, "clip_threshold": 0.5},
    {"eps2": 1e-3, "eps_scale": 2.0, "decay_rate": -0.3},
]
AGREE_SHAPES = SHAPES + [(2, 3, 4, 6), (9, 40), (1, 17)]


def strided_params(dtype, seed=5):
    """Parameters that are views with unusual strides (transposed 2-D, permuted 3-D)."""
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.nn.Parameter(torch.randn(12, 7, generator=gen).to(dtype).t()),
        torch.nn.Parameter(torch.randn(5, 4, 3, generator=gen).to(dtype).permute(2, 0, 1)),
    ]


@pytest.mark.parametrize("chunk", [None, 7, 64])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("options", AGREE_OPTIONS, ids=lambda o: ",".join(o) or "defaults")
def test_foreach_agrees_with_reference(options, dtype, chunk, monkeypatch):
    if chunk is not None:  # force the streamed path through many small blocks
        monkeypatch.setitem(engine._CHUNK_NUMEL, "cpu", chunk)
    results = {}
    for impl in EAGER:
        gen = torch.Generator().manual_seed(1)
        params = [
            torch.nn.Parameter(torch.randn(s, generator=gen, dtype=torch.float64).to(dtype))
            for s in AGREE_SHAPES
        ] + strided_params(dtype)
        opt = Adafactor(params, implementation=impl, **options)
        gen = torch.Generator().manual_seed(2)
        for _ in range(6):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen, dtype=torch.float64).to(dtype)
            opt.step()
        results[impl] = params
    tol = {torch.float32: 5e-6, torch.float64: 1e-13, torch.bfloat16: 0.05}[dtype]
    for a, b in zip(results["reference"], results["foreach"]):
        assert (a.double() - b.double()).abs().max().item() <= tol * max(1.0, a.abs().max().item())


def test_auto_is_fused_on_cpu_when_built():
    a, opt = random_run(lambda ps: Adafactor(ps), SHAPES, steps=3)
    expected = "foreach" if engine.fused_unavailable() else "fused"
    b, _ = random_run(lambda ps: Adafactor(ps, implementation=expected), SHAPES, steps=3)
    assert opt.resolved_implementation("cpu") == expected == opt.last_implementation
    assert all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.slow  # torch.compile
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit notices raised inside Inductor
def test_compiled_agrees_with_reference():
    """The one test that pays torch.compile (a few seconds per shape, once per process)."""
    shapes = [(5, 5), (7,), (4, 3, 5), ()]
    options = {"beta1": 0.5, "weight_decay": 0.1, "maximize": True}
    ref, _ = random_run(lambda ps: Adafactor(ps, implementation="reference", **options), shapes)
    got, opt = random_run(lambda ps: Adafactor(ps, implementation="compiled", **options), shapes)
    assert max_diff(ref, got) <= 5e-6
    if opt.resolved_implementation() == "compiled":  # compile worked here: kernels are cached
        n = len(engine._COMPILED_KERNELS)
        again, _ = random_run(lambda ps: Adafactor(ps, implementation="compiled", **options), shapes)
        assert len(engine._COMPILED_KERNELS) == n and all(torch.equal(x, y) for x, y in zip(got, again))


# --------------------------------------------------------------------------- no host reads


def host_reads_during_step(opt, params, monkeypatch) -> list[str]:
    """Names of the tensor -> Python value conversions (.item(), bool(), ...) one step makes."""
    reads: list[str] = []

    def counting(name, original):
        def method(self, *args, **kwargs):
            reads.append(name)
            return original(self, *args, **kwargs)

        return method

    for p in params:
        p.grad = torch.randn_like(p)
    with monkeypatch.context() as patch:
        for name in ("item", "tolist", "__bool__", "__float__", "__int__", "__index__"):
            patch.setattr(torch.Tensor, name, counting(name, getattr(torch.Tensor, name)))
        opt.step()
    return reads


@pytest.mark.parametrize("impl", EAGER)
def test_step_reads_nothing_back_from_tensors(impl, monkeypatch):
    """alpha_t and the clipping denominator stay tensors: no .item()/bool()/float() in a step."""
    params, opt = random_run(
        lambda ps: Adafactor(ps, beta1=0.9, weight_decay=0.1, implementation=impl), SHAPES, steps=1
    )
    assert host_reads_during_step(opt, params, monkeypatch) == []


def test_host_read_counter_sees_torch_optim_reads(monkeypatch):
    """The counter works: torch.optim.Adafactor reads RMS(X), RMS(U) and the step on the host."""
    params, opt = random_run(lambda ps: torch.optim.Adafactor(ps, lr=0.8), SHAPES, steps=1)
    assert host_reads_during_step(opt, params, monkeypatch).count("item") == 3 * len(SHAPES)


# --------------------------------------------------------------------------- misc


def test_empty_parameter_advances_its_step():
    e = torch.nn.Parameter(torch.zeros(0, 4))
    w = torch.nn.Parameter(torch.ones(2, 4))
    opt = Adafactor([e, w])
    e.grad, w.grad = torch.zeros_like(e), torch.ones_like(w)
    opt.step()
    assert opt.state[e]["step"] == 1 and e.shape == (0, 4)
    assert not torch.equal(w.detach(), torch.ones(2, 4))


def test_engine_imports_nothing_of_tcl():
    files = sorted(Path(engine.__file__).parent.glob("*.py"))
    assert {f.name for f in files} >= {"__init__.py", "optimizer.py", "common.py", "fused.py"}
    tcl_side = ("commands", "bridge", "_tclapi", "interp", "console", "errors", "handles")
    for f in files:
        tree = ast.parse(f.read_text())
        imported = set()
        for n in ast.walk(tree):
            if isinstance(n, ast.Import):
                imported |= {a.name for a in n.names}
            elif isinstance(n, ast.ImportFrom) and (n.module or "").startswith("tcltorch"):
                imported |= {f"{n.module}.{a.name}" for a in n.names}
        # only other engine modules (tcltorch.distributed for the sharded step): nothing of Tcl
        bad = [m for m in imported if m.startswith("tcltorch.") and m.split(".")[1] in tcl_side]
        assert not bad, f"{f.name} imports {bad}"


def test_optimizer_deepcopies():
    _params, opt = random_run(lambda ps: Adafactor(ps, beta1=0.9), SHAPES, steps=2)
    clone = copy.deepcopy(opt)
    assert clone.state_bytes() == opt.state_bytes()
