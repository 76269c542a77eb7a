"""Builds glassnet's optional C kernel; everything else is configured in pyproject.toml.

The extension is optional: without a working C compiler the build skips it and
glassnet runs on NumPy alone (``glassnet.kernels.available()`` is then False).
"""
import os

from setuptools import Extension, setup

# tuned for the machine that installs it (an editable or local install); set
# GLASSNET_PORTABLE=1 to build without -march=native, e.g. for a wheel to share
flags = ["-O3", "-fno-math-errno", "-std=gnu11"]
if not os.environ.get("GLASSNET_PORTABLE"):
    flags.append("-march=native")

setup(ext_modules=[Extension("glassnet._ckernel", sources=["src/glassnet/_ckernel.c"],
                             depends=["src/glassnet/_ckernel_impl.h"], extra_compile_args=flags,
                             libraries=["m", "pthread"], optional=True)])
