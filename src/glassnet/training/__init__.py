"""The training layer: everything around the book's epoch that practice adds.

    loop         ``fit``, the one epoch loop (validation, schedules, early stopping,
                 checkpoints, clean stops) that the CLI, the estimator, sweeps and
                 reproductions all use
    optimizers   plain SGD with L2 and momentum, each owning its state
    checkpoint   atomic checkpoints and bit-identical resume
    augment      distorted copies of the training images, redrawn every epoch
    tta          test-time augmentation: answers averaged over 7 views of each image
    runs         one path from options (data set, preset, overrides, seed) to a run
    schedules    learning-rate schedules (cosine)
    sweep        grids of runs in parallel (joblib, or Dask on a cluster)

Imports the core, the engines, the data layer and ``io``; never the CLI or the web.
"""

from ..errors import CheckpointError, TrainingDiverged
from .checkpoint import load_checkpoint, read_checkpoint, save_checkpoint, verify_checkpoint
from .loop import FitResult, TrainingConfig, epoch_record, fit
from .optimizers import SGD, Momentum, make_optimizer

__all__ = [
    "TrainingConfig",
    "fit",
    "FitResult",
    "epoch_record",
    "TrainingDiverged",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "verify_checkpoint",
    "SGD",
    "Momentum",
    "make_optimizer",
]
