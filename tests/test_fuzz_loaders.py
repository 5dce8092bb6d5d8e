"""Seeded mutation fuzzing of every loader in ``make test`` (bench/fuzz_loaders.py; ``make
bench`` runs 100,000 inputs per loader): only plutflow's error class escapes, nothing
hangs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
import fuzz_loaders

INPUTS = int(os.environ.get("PLUTFLOW_FUZZ_TEST_INPUTS", "2000"))


@pytest.fixture(scope="module")
def seed_files(tmp_path_factory):
    return fuzz_loaders.seeds(tmp_path_factory.mktemp("seeds"))


@pytest.mark.parametrize("loader", list(fuzz_loaders.loaders()))
def test_loader_fuzz(loader, seed_files, tmp_path) -> None:
    result = fuzz_loaders.fuzz(loader, INPUTS, seed=7, tmp=tmp_path, seed_files=seed_files)
    assert result["foreign"] == 0, (result["signatures"], result["examples"])
    assert result["hangs"] == 0
    assert result["refused"] > 0  # the mutations do reach the checks
