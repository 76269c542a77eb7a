"""Model files and exports: the versioned .npz format (``models``) and ONNX (``onnx``).

``glassnet.io.save`` / ``glassnet.io.load`` read and write every kind of model; the ONNX
exporter is imported on first use (it needs the optional ``onnx`` package).
"""

from .models import *  # noqa: F401,F403
from .models import __all__  # noqa: F401
