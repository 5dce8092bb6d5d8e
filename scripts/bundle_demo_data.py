"""Write the bundled demo data: 2,000 test images and 512 calibration images (dev tool).

The calibration labels are bundled too, for the optional task-loss range search.

Reads Debian's ``dataset-fashion-mnist`` (MIT licence). The result is committed as
``host/plutflow/data/fashion_mnist_test2000.npz`` so users need neither apt nor training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plutflow.calib.sources import read_idx

DATA = Path("/usr/share/datasets/fashion-mnist")
OUT = Path(__file__).resolve().parents[1] / "host" / "plutflow" / "data"


def bundle(test_count: int = 2000, calib_count: int = 512, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    xte = read_idx(DATA / "t10k-images-idx3-ubyte.gz")
    yte = read_idx(DATA / "t10k-labels-idx1-ubyte.gz")
    xtr = read_idx(DATA / "train-images-idx3-ubyte.gz")
    ytr = read_idx(DATA / "train-labels-idx1-ubyte.gz")
    pick = np.sort(rng.choice(len(xte), test_count, replace=False))
    calib = np.sort(rng.choice(len(xtr), calib_count, replace=False))
    path = OUT / "fashion_mnist_test2000.npz"
    np.savez_compressed(
        path,
        images=xte[pick],
        labels=yte[pick].astype(np.uint8),
        calib_images=xtr[calib],
        calib_labels=ytr[calib].astype(np.uint8),
    )
    return path


if __name__ == "__main__":
    print(bundle())
