"""Unified scale factors: a real multiplier as an integer ``M0`` and a right shift ``n``."""

from __future__ import annotations

import numpy as np

from plutflow.errors import PlutflowError

#: Width of the requantization multiplier: M0 lies in [2**(bits-1), 2**bits).
REQUANT_BITS = 16
MAX_SHIFT = 62


def quantize_multiplier(
    m: np.ndarray | float, bits: int = REQUANT_BITS
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(M0, n)`` with ``M0 / 2**n`` the closest such value to ``m`` (> 0).

    ``M0`` is normalised into ``[2**(bits-1), 2**bits)`` unless ``n`` would exceed 62
    (tiny multipliers), where ``M0`` is smaller. ``m == 0`` gives ``(0, 0)``.
    """
    m = np.asarray(m, dtype=np.float64)
    if np.any(m < 0) or not np.all(np.isfinite(m)):
        raise PlutflowError(f"requantization multipliers must be finite and >= 0, got {m}")
    safe = np.where(m > 0, m, 1.0)
    n = (bits - 1) - np.floor(np.log2(safe)).astype(np.int64)
    n = np.minimum(n, MAX_SHIFT)
    m0 = np.rint(safe * np.exp2(n.astype(np.float64))).astype(np.int64)
    over = m0 >= 2**bits
    m0 = np.where(over, m0 // 2, m0)
    n = np.where(over, n - 1, n)
    if np.any((n < 0) & (m > 0)):
        raise PlutflowError(
            f"a requantization multiplier is too large ({m.max():.3g}); "
            "the activation ranges are degenerate"
        )
    m0 = np.where(m > 0, m0, 0)
    n = np.where(m > 0, n, 0)
    return m0.astype(np.int32), n.astype(np.int32)


def shared_shift(ms: list[float] | np.ndarray, bits: int = REQUANT_BITS) -> tuple[list[int], int]:
    """Several multipliers over one shift ``n``, chosen so that the largest ``M0`` fits ``bits``."""
    ms = np.asarray(ms, dtype=np.float64)
    _, n = quantize_multiplier(ms.max(), bits)
    return [int(v) for v in np.rint(ms * 2.0 ** int(n))], int(n)
