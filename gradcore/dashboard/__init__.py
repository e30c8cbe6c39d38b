"""A live dashboard in the browser: each layer's speed of learning while a network trains.

Modules:

* :mod:`~gradcore.dashboard.settings` -- :class:`Settings`, the limits, and reading the
  page's form (no web framework needed);
* :mod:`~gradcore.dashboard.training` -- :func:`run_training`, the plain function a run
  executes, and :class:`TrainingRun`, its thread (no web framework needed).
"""

from __future__ import annotations

from .settings import LIMITS, Limits, Settings, SettingsError, parse_settings
from .training import TrainingRun, run_training

__all__ = ["LIMITS", "Limits", "Settings", "SettingsError", "parse_settings", "run_training",
           "TrainingRun"]
