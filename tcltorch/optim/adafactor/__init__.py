r"""Adafactor (Shazeer & Stern, ICML 2018, arXiv 1804.04235, Algorithms 4 and 5).

The engine behind ``torch::optimizer_adafactor``; pure PyTorch, usable on its own. The
specification is ``docs/adafactor.md`` of the project; this package states it again as maths.

For a parameter :math:`X` with gradient :math:`G` and its own step count :math:`t`
(advanced only on steps where :math:`X` has a gradient), :math:`\mathrm{RMS}(x)=\sqrt{\mathrm{mean}(x^2)}`:

.. math::
    \begin{aligned}
    &G \leftarrow -G \quad\text{if maximize (a copy; } p.grad \text{ is never modified)}\\
    &\rho_t = \min(\gamma, 1/\sqrt t)\ [\,\min(\gamma, 10^{-6}t, 1/\sqrt t) \text{ with warmup\_init}]
        \quad\text{or } \rho_t=\gamma \text{ without relative\_step}\\
    &\alpha_t = \max(\epsilon_{scale}, \mathrm{RMS}(X))\,\rho_t \quad\text{or } \alpha_t=\rho_t
        \text{ without scale\_parameter}\\
    &\hat\beta_{2t} = 1 - t^{-c}\qquad Q = G^2 + \epsilon_2\\
    &\text{rank}\ge 2:\ r \leftarrow \hat\beta_{2t} r + (1-\hat\beta_{2t})\,\mathrm{mean}_{-1}(Q),\;
        c \leftarrow \hat\beta_{2t} c + (1-\hat\beta_{2t})\,\mathrm{mean}_{-2}(Q),\;
        V = \frac{r}{\mathrm{mean}_{-1}(r)} \otimes c\\
    &\text{rank}\le 1:\ v \leftarrow \hat\beta_{2t} v + (1-\hat\beta_{2t})\,Q,\; V = v\\
    &U = G/\sqrt V \qquad \hat U = U / \max(1, \mathrm{RMS}(U)/d) \qquad S = \alpha_t \hat U\\
    &\beta_1 \ge 0:\ m \leftarrow \beta_1 m + (1-\beta_1) S,\; S \leftarrow m\\
    &X \leftarrow X - \lambda\,\alpha_t X \;\;(\lambda>0) \qquad X \leftarrow X - S
    \end{aligned}

Conventions, stated where they are used:

* ``decay_rate`` (:math:`c`): ``-1.0`` selects the paper's :math:`c = 0.8`; any other negative
  value is read in the HF/PyTorch/Keras sign convention (``-0.5`` means :math:`c=0.5`); a value in
  ``(0, 1]`` is :math:`c` itself. ``0`` and :math:`|c|>1` are rejected.
* ``eps2`` is the paper's :math:`\epsilon_1` ("second moment epsilon", added to :math:`G^2`, HF
  ``eps[0]``, Keras ``epsilon_1``); ``eps_scale`` is the paper's :math:`\epsilon_2` (the floor of the
  parameter scale, HF ``eps[1]``, torch ``eps[1]``, Keras ``epsilon_2``).
* ``lr`` is the *cap* of the relative step (as in ``torch.optim.Adafactor``), not a fixed step.
* Momentum is the EMA of the scaled, clipped update (HF / T2T / optax), no bias correction.
* Weight decay is decoupled and scaled by :math:`\alpha_t` (HF), applied to :math:`X` before
  this step's decay was taken into :math:`\mathrm{RMS}(X)`.
* The two dims that are factored are the last two; leading dims are a batch. 0-d and 1-d
  tensors keep a full second-moment vector.
* All arithmetic is in float32 (float64 for float64 parameters) whatever the parameter dtype;
  state lives in that compute dtype; the result is written back in the parameter's dtype.
* :math:`V` and :math:`\mathrm{mean}_{-1}(r)` are floored at the smallest normal number of the
  compute dtype before they divide. With ``eps2 > 0`` the floor never binds; with ``eps2 = 0`` it
  turns the 0/0 of an all-zero gradient row into a zero update instead of NaN.

State per parameter: ``step`` (a Python int: the host knows it, so reading it never waits for
the device, and it round-trips through ``state_dict`` exactly), ``row`` and ``col`` (rank >= 2)
or ``v`` (rank <= 1), and ``exp_avg`` only while ``beta1 >= 0``. No other tensor of the
parameter's size survives a step.

Implementations (``implementation=``): ``"reference"`` is the single-tensor loop of the maths above;
``"foreach"`` does tensors of up to a chunk (2**20 elements on the CPU) a chunk's worth at a time
with ``torch._foreach_*`` ops (on the CPU, stacked by shape instead), and streams each
larger factored tensor in cache-sized blocks (two reads of G, two reads and one write of X), so no
temporary is larger than a chunk or one tensor; ``"compiled"`` runs the reference maths through
``torch.compile`` (Inductor), one kernel per shape/dtype/option signature, cached for the process;
``"fused"`` (CPU) is one native call per parameter group (``_fused_adafactor.c``, built by
setup.py): two passes over G and one read and one write of X, float32 maths and state, every
sum in double, float32/bfloat16/float16 parameters and gradients; anything it cannot take
(other devices, float64, non-contiguous tensors, or a build without the library) goes to the
foreach path, and :attr:`Adafactor.last_implementation` says which paths the last step took.
Once a group's step went wholly through the native call, the call is prepared once (``fused.make_plan``:
the tensor structs, the options, and what they depend on); later steps check per tensor only what can
change between steps unseen (the gradient and its layout, X's address, shape and dtype, the state
tensors' identity, X's version counter) and pass the gradients' addresses and one rho_t and
1 - beta2_t (benchmarks/adafactor_floor.py measures the per-tensor cost and the ratio to the floor).
``"auto"`` picks per device (:data:`AUTO_IMPLEMENTATION`). No implementation reads a device value
on the host during a step: :math:`\alpha_t` and the clipping denominator stay tensors.

Large reductions are accurate on every path: :math:`\mathrm{RMS}(X)` and :math:`\mathrm{RMS}(U)`
of a tensor of more than ``_SUM_BLOCK`` elements are float32 sums of blocks added up in float64
(a float32 norm of GPT-2's 38.6M-element embedding is off by ~1e-3 of the update after three steps).

Layout: :mod:`.optimizer` (the ``torch.optim.Optimizer`` class, options, state, dispatch),
:mod:`.common` (the schedule and the norms every path shares), :mod:`.reference`,
:mod:`.foreach`, :mod:`.fused` and :mod:`.compiled` (the implementations). The mutable switches
(``fused._NATIVE``, ``fused._KERNELS``, ``fused._REUSE_PARAM_NORM``) live in their modules.
"""

from .common import compute_dtype, decay_exponent, relative_step_size, second_moment_weight

# the process-wide caches and tables (the same objects: tests and benchmarks read and patch them)
from .compiled import _COMPILE_BROKEN as _COMPILE_BROKEN
from .compiled import _COMPILED_KERNELS as _COMPILED_KERNELS
from .foreach import _CHUNK_NUMEL as _CHUNK_NUMEL
from .fused import fused_library, fused_unavailable, fused_variant
from .optimizer import AUTO_IMPLEMENTATION, IMPLEMENTATIONS, Adafactor
from .optimizer import _resolve as _resolve

__all__ = [
    "AUTO_IMPLEMENTATION",
    "IMPLEMENTATIONS",
    "Adafactor",
    "compute_dtype",
    "decay_exponent",
    "fused_library",
    "fused_unavailable",
    "fused_variant",
    "relative_step_size",
    "second_moment_weight",
]
