"""cffi builder (API mode) for tcltorch.optim._adafactor_native, the fused CPU Adafactor step.

The structs are those of _fused_adafactor.c (the fields are described there); Python fills the
options by name and passes rho_t and 1 - beta2_t per tensor (the schedule is computed once, in
tcltorch/optim/adafactor/common.py).

Built with the other native parts by setup.py at install time, never on first use. Portable:
no -march=native; _fused_adafactor.c compiles its row kernels for baseline x86-64, for
AVX2+FMA+F16C and for AVX-512, and picks one at run time. OpenMP when the compiler has it (the library then shares
the libgomp that torch loaded); TCLTORCH_NO_OPENMP=1 builds it single-threaded.
"""

import os
import sys

from cffi import FFI

_HERE = os.path.dirname(os.path.abspath(__file__))

ffibuilder = FFI()
ffibuilder.cdef(
    """
    struct tt_adafactor_options {
        double eps2;
        double eps_scale;
        double clip_threshold;
        double beta1;
        double weight_decay;
        int scale_parameter;
        int maximize;
        int nthreads;
        int kernels;
    };
    struct tt_adafactor_tensor {
        int64_t x, g, row, col, exp_avg;
        int64_t batch, rows, cols;
        int x_dtype, g_dtype;
        double rho;
        double weight;
        double xsq;
        double xsq_out;
    };
    int tt_adafactor_step(int count, struct tt_adafactor_tensor *tensors,
                          const struct tt_adafactor_options *options);
    int tt_adafactor_step_planned(int count, struct tt_adafactor_tensor *tensors, const int64_t *grads,
                                  double rho, double weight, const struct tt_adafactor_options *options);
    const char *tt_adafactor_variant(int kernels);
    """
)

_openmp = os.environ.get("TCLTORCH_NO_OPENMP", "") in ("", "0") and sys.platform.startswith("linux")
_flags = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-std=gnu11"]
ffibuilder.set_source(
    "tcltorch.optim._adafactor_native",
    '#include "_fused_adafactor.c"',
    include_dirs=[_HERE],
    depends=[os.path.join(_HERE, n) for n in ("_fused_adafactor.c", "_fused_adafactor_kernels.h")],
    extra_compile_args=_flags
    + (["-fopenmp"] if _openmp else ["-fopenmp-simd"] if sys.platform.startswith("linux") else []),
    extra_link_args=["-fopenmp"] if _openmp else [],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
