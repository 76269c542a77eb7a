"""Builds glassnet's optional C kernels; everything else is configured in pyproject.toml.

Two kernels, each built three times from one source: for AVX-512 processors, for AVX2
processors and for any x86-64 (or other) processor; at run time glassnet.engines loads
the fastest build this processor can run.

  _ckernel      chapters 1-3: sigmoid networks of fully connected layers (engines/kernel.py)
  _layerkernel  chapter 6: conv-pool, fully connected and softmax layers (engines/layers_fast.py)

Every build is optional: without a working C compiler (or one that knows the flags) it
is skipped, and glassnet runs on NumPy alone.
"""

import platform

from setuptools import Extension, setup

BASE = ["-O3", "-std=gnu11", "-fno-math-errno"]
ENGINES = "src/glassnet/engines"
KERNELS = {
    "_ckernel": ["_ckernel.c", "_ckernel_impl.h", "_kernel_common.h"],
    "_layerkernel": ["_layerkernel.c", "_layerkernel_impl.h", "_kernel_common.h"],
}
FLAGS = {"": []}
if platform.machine().lower() in ("x86_64", "amd64"):
    FLAGS = {
        "_avx512": ["-march=skylake-avx512"],  # (its own tuning: ~15% faster here than generic)
        "_avx2": ["-march=haswell"],
        "": [],
    }

setup(
    ext_modules=[
        Extension(
            f"glassnet.engines.{kernel}{suffix}",
            sources=[f"{ENGINES}/{kernel}{suffix}.c"],
            depends=[f"{ENGINES}/{name}" for name in files],
            extra_compile_args=BASE + flags,
            libraries=["m", "pthread"],
            optional=True,
        )
        for kernel, files in KERNELS.items()
        for suffix, flags in FLAGS.items()
    ]
)
