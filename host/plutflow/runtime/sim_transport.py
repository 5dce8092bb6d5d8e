"""Transport ``sim``: the overlay RTL in Verilator + cocotb, in a server subprocess.

The driver listens on a Unix socket in a private temporary directory and starts
``sim/serve.py``, which builds the simulation (cached under ``build/sim``, keyed by the
RTL sources and parameters) and runs the cocotb server test that connects back. Requests
are register reads/writes and bulk stream transfers (``plutflow.runtime.wire``). A crash,
a build error or a timeout raises :class:`TransportError` with the end of the server log;
the server's whole process group is killed on close, on error and at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from plutflow.formats.accel import OverlayConfig
from plutflow.runtime.transport import TransferResult, Transport, TransportError
from plutflow.runtime.wire import ConnectionClosed, recv_msg, send_msg


def repo_root() -> Path:
    """The source tree holding ``overlay_src/rtl`` and ``sim`` (``PLUTFLOW_ROOT`` or the
    checkout this package was installed from in editable mode)."""
    env = os.environ.get("PLUTFLOW_ROOT")
    candidates = [Path(env)] if env else []
    candidates += list(Path(__file__).resolve().parents)
    for c in candidates:
        if (c / "overlay_src" / "rtl").is_dir() and (c / "sim" / "serve.py").is_file():
            return c
    raise TransportError(
        "the sim backend needs the plutflow source tree (overlay_src/, sim/); set "
        "PLUTFLOW_ROOT to a checkout"
    )


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class SimTransport(Transport):
    """The simulated overlay; one server process per transport."""

    name = "sim"

    def __init__(
        self,
        overlay: OverlayConfig,
        start_timeout_s: float = 1800.0,
        timeout_s: float = 600.0,
        timeout_cycles: int = 200_000_000,
        sim_params: dict[str, int] | None = None,
        progress: bool = False,
    ) -> None:
        self.overlay = overlay
        self.timeout_s = timeout_s
        self.timeout_cycles = timeout_cycles
        self.sim_cycles = 0
        self.sim_seconds = 0.0
        root = repo_root()
        self._tmp = Path(tempfile.mkdtemp(prefix="plutflow-sim-"))
        self.log_path = self._tmp / "server.log"
        sock_path = str(self._tmp / "sim.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(sock_path)
        listener.listen(1)
        listener.settimeout(0.5)
        params = {**overlay.rtl_parameters(), **(sim_params or {})}
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(root / "sim" / "serve.py"),
                "--socket",
                sock_path,
                "--params",
                json.dumps(params),
                "--work",
                str(self._tmp),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killed as a whole
            cwd=root,
        )
        self._finalizer = weakref.finalize(self, _kill_group, self.proc)
        atexit.register(self._finalizer)
        self.sock: socket.socket | None = None
        deadline = time.monotonic() + start_timeout_s
        bar = tqdm(
            desc="starting the simulator (the Verilator build is cached)",
            bar_format="{desc}: {elapsed}",
            disable=not progress,
        )
        try:
            while self.sock is None:
                try:
                    self.sock, _ = listener.accept()
                except TimeoutError:
                    bar.update()
                    if self.proc.poll() is not None:
                        raise TransportError(
                            "the simulator exited before it connected (build error?)\n"
                            + self.log_tail()
                        ) from None
                    if time.monotonic() > deadline:
                        raise TransportError(
                            f"the simulator did not start within {start_timeout_s:.0f} s\n"
                            + self.log_tail()
                        ) from None
            self.sock.settimeout(timeout_s)
            hello, _ = self._recv()
            self.in_depth, self.out_depth = int(hello["in_depth"]), int(hello["out_depth"])
        except BaseException:
            listener.close()
            bar.close()
            self.close()
            raise
        bar.close()
        listener.close()

    # ---------------------------------------------------------------- plumbing
    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "--- simulator log (last lines) ---\n" + "\n".join(text[-lines:])

    def _recv(self) -> tuple[dict, bytes]:
        try:
            header, payload = recv_msg(self.sock)
        except TimeoutError:
            self.close()
            raise TransportError(
                f"the simulator did not answer within {self.timeout_s:.0f} s; stopped it"
            ) from None
        except (ConnectionClosed, OSError) as exc:
            code = self.proc.poll()
            self.close()
            raise TransportError(
                f"the simulator connection broke ({exc}); server exit code {code}\n"
                + self.log_tail()
            ) from None
        if "error" in header:
            raise TransportError(f"simulator server error:\n{header['error']}")
        return header, payload

    def _call(self, header: dict, payload: bytes = b"") -> tuple[dict, bytes]:
        if self.sock is None:
            raise TransportError("the simulator transport is closed")
        try:
            send_msg(self.sock, header, payload)
        except OSError as exc:
            self.close()
            raise TransportError(f"the simulator connection broke ({exc})") from None
        return self._recv()

    # ---------------------------------------------------------------- Transport
    def read(self, addr: int) -> int:
        return int(self._call({"cmd": "read", "addr": addr})[0]["value"])

    def write(self, addr: int, value: int) -> None:
        self._call({"cmd": "write", "addr": addr, "value": int(value)})

    def transfer(self, send: np.ndarray, recv_words: int, timeout_s: float) -> TransferResult:
        lanes = self.overlay.data_w // 64
        if send.size // lanes > self.in_depth or recv_words // lanes > self.out_depth:
            raise TransportError(
                f"packet of {send.size} words (or {recv_words} back) exceeds the simulator's "
                f"stream memories ({self.in_depth}/{self.out_depth} words)"
            )
        t0 = time.perf_counter()
        head, payload = self._call(
            {"cmd": "transfer", "recv_words": recv_words, "timeout_cycles": self.timeout_cycles},
            np.ascontiguousarray(send, dtype="<u8").tobytes(),
        )
        out = np.frombuffer(payload, dtype="<u8").copy()
        self.sim_cycles += int(head["cycles"])
        self.sim_seconds += float(head["sim_s"])
        return TransferResult(
            out=out,
            sent_words=int(head["sent_words"]),
            recv_words=int(head["recv_words"]),
            seconds=time.perf_counter() - t0,
            sim_cycles=int(head["cycles"]),
        )

    def reset(self) -> None:
        self._call({"cmd": "reset"})

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.settimeout(10)
                send_msg(self.sock, {"cmd": "quit"})
                recv_msg(self.sock)
            except (OSError, ConnectionClosed, ValueError):
                pass
            self.sock.close()
            self.sock = None
        if self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        self._finalizer()
        if not self._log.closed:
            self._log.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
