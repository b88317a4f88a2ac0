"""Runs: what a command measures, step by step, on a bench it brings up and tears down.

:mod:`.plan` says what a run measures, :mod:`.compare` runs it (every service, every level,
interleaved), :mod:`.step` measures one step; :mod:`.variants` turns variant names into the
services a run starts. Scenarios applied to every step: :mod:`.faults` (``harness chaos``) and
:mod:`.soak`; the harness checking itself: :mod:`.selftest`.
"""

from .compare import RunControl, default_run_dir, run_comparison, step_profile
from .plan import RUN_PRESETS, RunPlan, ScenarioStep, StepScenario, Target, WindowHook, echo_target, load_for_profile
from .step import StepOutcome, measure_step
from .variants import (
    DEFAULT_BASELINE,
    DEFAULT_CANDIDATES,
    VariantError,
    Worktree,
    checkout,
    remove_worktrees,
    split_revision,
    variant_info,
    variant_target,
)

__all__ = [
    "DEFAULT_BASELINE",
    "DEFAULT_CANDIDATES",
    "RUN_PRESETS",
    "RunControl",
    "RunPlan",
    "ScenarioStep",
    "StepOutcome",
    "StepScenario",
    "Target",
    "VariantError",
    "WindowHook",
    "Worktree",
    "checkout",
    "default_run_dir",
    "echo_target",
    "load_for_profile",
    "measure_step",
    "remove_worktrees",
    "run_comparison",
    "split_revision",
    "step_profile",
    "variant_info",
    "variant_target",
]
