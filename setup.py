"""Builds tcltorch's native parts with cffi; metadata lives in pyproject.toml."""

from setuptools import setup

setup(
    cffi_modules=[
        "tcltorch/bridge/build_tclapi.py:ffibuilder",
        "tcltorch/bridge/build_embed.py:ffibuilder",
        "tcltorch/optim/build_fused_adafactor.py:ffibuilder",
    ],
)
