"""The shared Meta samples in ``../shared/webhook-samples`` (beside the project), when present.

A user's clone has none; tests that read them skip with this reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "shared" / "webhook-samples"
SKIP_REASON = f"shared webhook samples not found at {SAMPLES_DIR} (only the project's workspace has them)"

# phone_number_ids the samples use (see their README)
SAMPLE_PHONE_IDS = ("106540352242922", "106540352242933")


def sample_paths() -> list[Path]:
    return sorted(SAMPLES_DIR.glob("*.json")) if SAMPLES_DIR.is_dir() else []


def require_samples() -> list[Path]:
    paths = sample_paths()
    if not paths:
        pytest.skip(SKIP_REASON)
    return paths
