"""Builds tcltorch's native parts with cffi; metadata lives in pyproject.toml.

The Tcl side of the package (pkgIndex.tcl and any pure-Tcl files) lives in the top-level
tcl/ folder; a build copies it into tcltorch/tcl of the wheel. An editable install needs no
copy: tcltorch.paths.tcl_path() finds the source tree's tcl/."""

import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent


class BuildPyWithTcl(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        target = pathlib.Path(self.build_lib) / "tcltorch" / "tcl"
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted((HERE / "tcl").glob("*.tcl")):
            shutil.copy2(path, target / path.name)


setup(
    cmdclass={"build_py": BuildPyWithTcl},
    cffi_modules=[
        "tcltorch/bridge/build_tclapi.py:ffibuilder",
        "tcltorch/bridge/build_embed.py:ffibuilder",
        "tcltorch/optim/build_fused_adafactor.py:ffibuilder",
    ],
)
