"""What the driver needs from a target: register access and one DMA transfer at a time."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from plutflow.errors import PlutflowError


class TransportError(PlutflowError):
    """The target failed: a DMA timeout, a crashed or unbuildable simulator, a lost link."""


class OverlayMismatch(PlutflowError):
    """The loaded overlay is not the one the artifact was compiled for."""


class AcceleratorError(PlutflowError):
    """The accelerator ended a run with an error status."""


@dataclass
class TransferResult:
    """One DMA round: the words received and how much moved each way."""

    out: np.ndarray  # uint64 words received
    sent_words: int  # 64-bit words the target accepted
    recv_words: int  # 64-bit words received
    seconds: float  # wall time of the transfer (for the simulator: simulation time)
    sim_cycles: int | None = None  # simulated cycles of the transfer (sim only)


class Transport(ABC):
    """A target: the simulated overlay or a board."""

    name = "transport"

    @abstractmethod
    def read(self, addr: int) -> int:
        """Read a 32-bit control register."""

    @abstractmethod
    def write(self, addr: int, value: int) -> None:
        """Write a 32-bit control register."""

    @abstractmethod
    def transfer(self, send: np.ndarray, recv_words: int, timeout_s: float) -> TransferResult:
        """Send ``send`` (uint64 words) as one stream packet and receive ``recv_words``."""

    def reset(self) -> None:  # noqa: B027 - optional
        """Reset the accelerator (and its DMA) after an error."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release the target."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
