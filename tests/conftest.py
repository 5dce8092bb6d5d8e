"""Shared fixtures and ONNX model builders for the tests."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from plutflow.assets import DemoAssets


@pytest.fixture(scope="session")
def demo() -> DemoAssets:
    return DemoAssets()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
