"""Finding and loading the compiled builds of a kernel: one way for every kernel.

``pip install`` builds each kernel three times (setup.py: AVX-512, AVX2, any x86-64); a build
is found as a module file of ``glassnet.engines`` and loaded with ctypes, never imported, and
used only once its own baseline-compiled check says this processor has its instructions.
``GLASSNET_KERNEL`` chooses: "auto" (default: the fastest that runs), "avx512", "avx2",
"portable", or "off" (NumPy only).
"""

from __future__ import annotations

import importlib.util
import os

__all__ = ["load_fastest"]


def load_fastest(variants, load, cpu_ok):
    """The loaded library of the fastest build that runs here, or None.

    variants : {"avx512": module name, "avx2": ..., "portable": ...}, fastest first
    load : path -> ctypes library (its functions' C types set)
    cpu_ok : library -> bool, the build's check that this processor runs it
    """
    choice = os.environ.get("GLASSNET_KERNEL", "auto").strip().lower() or "auto"
    if choice == "off":
        return None
    names = list(variants.values()) if choice == "auto" else [variants.get(choice)]
    for name in names:
        spec = importlib.util.find_spec(f"glassnet.engines.{name}") if name else None
        if spec is None or not spec.origin:
            continue
        try:
            lib = load(spec.origin)
        except (OSError, AttributeError):
            continue
        if cpu_ok(lib):
            return lib
    return None
