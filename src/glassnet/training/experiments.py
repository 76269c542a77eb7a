"""The former import path of the run options, kept for code that still uses it.

What was here lives on in one place each: the data sets by name in ``glassnet.datasets``
(``load_dataset``, ``dataset_info``), the options, presets and ``train_preset`` in
``glassnet.training.runs`` (``plan_run``: one path from options to a run), and chapter 1's
table in ``glassnet.book.chapter1``.  ``PRESETS`` here are the presets' options alone.
"""
from __future__ import annotations

from ..datasets import load_dataset
from . import runs
from .runs import DEFAULTS as DATASETS
from .runs import augmenter_from_options, config_from_options, joined, run_options, train_preset

__all__ = ["DATASETS", "PRESETS", "load_dataset", "run_options", "config_from_options", "augmenter_from_options",
           "train_preset", "joined"]

#: each preset's options (``runs.PRESETS`` holds them with their descriptions)
PRESETS = {name: preset.options for name, preset in runs.PRESETS.items()}
