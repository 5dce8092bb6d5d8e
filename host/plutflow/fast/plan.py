"""Compile an :class:`~plutflow.intmodel.IntModel` into a plan of fast exact steps and run
it: :class:`FastExecutor`.

Activations between fast steps live as uint8 NHWC arrays in the offset domain
(``u = q + off``, :mod:`plutflow.fast.env`); ops without a fast kernel run the golden
op on golden-layout codes, converted on demand. Each step states why it is fast or not
(:attr:`Step.note`), and ``FastExecutor.describe`` lists them. A batch runs as one
compiled program per input shape (:mod:`plutflow.fast.program`) where the steps lower.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from plutflow.errors import PlutflowError
from plutflow.fast import program as prog
from plutflow.fast.env import Env, Step, offset, to_golden, to_u
from plutflow.fast.isa import select_path
from plutflow.fast.ops import Compiler
from plutflow.golden.executor import GoldenExecutor
from plutflow.intmodel.model import IntLayer, IntModel

__all__ = ["CHUNK_BYTES", "Env", "FastExecutor", "Step", "offset", "thread_count", "to_golden",
           "to_u"]  # fmt: skip


def thread_count(threads: int | None = None) -> int:
    """Worker threads: ``threads``, else ``$PLUTFLOW_THREADS``, else 1; 0 means one per
    CPU."""
    if threads is None:
        raw = os.environ.get("PLUTFLOW_THREADS", "1")
        try:
            threads = int(raw)
        except ValueError:
            raise PlutflowError(f"PLUTFLOW_THREADS must be a count, not '{raw}'") from None
    if threads < 0:
        raise PlutflowError(f"thread count must be 0 (all CPUs) or more, not {threads}")
    return threads or os.cpu_count() or 1


class FastExecutor:
    """The fast exact engine: the same contract as :class:`GoldenExecutor`, same results."""

    def __init__(self, model: IntModel, path: str | None = None, threads: int | None = None
                 ) -> None:  # fmt: skip
        GoldenExecutor(model)  # the same check of unknown ops
        self.model, self.path = model, select_path(path)
        #: threads a batch is split over (default: $PLUTFLOW_THREADS, else 1; 0: all CPUs)
        self.threads = thread_count(threads)
        compiler = Compiler(model, self.path)
        self.steps = [compiler.compile(lay) for lay in model.layers]
        #: run the lowerable prefix of the plan as one compiled program (docs/fast.md 5)
        self.whole_program = True
        self._programs: dict[tuple, prog.Program | None] = {}
        self._by_layer = {id(s.layer): s for s in self.steps}
        #: bytes per image of the largest activation with a static shape
        self._largest = max(
            (int(np.prod(s.shape[1:])) for s in model.tensors.values()
             if all(isinstance(d, int) for d in s.shape[1:])), default=0,
        )  # fmt: skip

    def describe(self) -> list[tuple[str, str, str, str]]:
        """(layer, op, fast|golden, note) per step."""
        return [(s.layer.name, s.layer.op, s.kind, s.note) for s in self.steps]

    quantize_inputs = GoldenExecutor.quantize_inputs
    dequantize_outputs = GoldenExecutor.dequantize_outputs
    _check = GoldenExecutor._check

    def run_layer(self, layer: IntLayer, ins: list[np.ndarray]) -> np.ndarray:
        """One layer on golden-layout input codes (the overlay runtime's host layers)."""
        env = Env(self.model.tensors)
        env.golden.update(zip(layer.inputs, ins, strict=True))
        self._by_layer[id(layer)].run(env)
        return env.get_golden(layer.outputs[0])

    def run(
        self, feeds: np.ndarray | Mapping[str, np.ndarray], keep: bool = False
    ) -> dict[str, np.ndarray]:
        """Execute on integer codes; returns golden-layout outputs (every tensor with
        ``keep``), equal to :meth:`GoldenExecutor.run`. A large batch runs in chunks of
        :attr:`chunk` images, which bounds the memory its activations take."""
        if not isinstance(feeds, Mapping):
            feeds = {self.model.inputs[0]: feeds}
        self._check(feeds)
        feeds = {k: np.asarray(v) for k, v in feeds.items()}
        n = len(next(iter(feeds.values())))
        workers = min(self.threads, n)
        if n <= self.chunk and workers <= 1:
            return self._run(feeds, keep)
        # contiguous slices per worker thread (the kernels release the GIL), each in chunks
        cuts = [n * i // max(workers, 1) for i in range(max(workers, 1) + 1)]
        jobs = [(w, i, min(i + self.chunk, cuts[w + 1])) for w in range(len(cuts) - 1)
                for i in range(cuts[w], cuts[w + 1], self.chunk)]  # fmt: skip

        def job(spec: tuple[int, int, int]) -> dict[str, np.ndarray]:
            w, a, b = spec
            return self._run({k: v[a:b] for k, v in feeds.items()}, keep, w)

        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(job, jobs))
        else:
            parts = [job(j) for j in jobs]
        return {k: v if k in self.model.constants else np.concatenate([p[k] for p in parts])
                for k, v in parts[0].items()}  # fmt: skip

    def program(self, feeds: Mapping[str, np.ndarray], keep: bool = False, worker: int = 0
                ) -> prog.Program | None:  # fmt: skip
        """The whole-network program for inputs of these shapes (built once per shape and
        worker thread): the plan's longest prefix of steps that lower, or None when not
        even the first does (or ``whole_program`` is off)."""
        if not self.whole_program:
            return None
        key = (keep, worker, *((k, v.shape, v.dtype.str) for k, v in sorted(feeds.items())))
        if key not in self._programs:
            if len(self._programs) >= 4 + 4 * self.threads:
                self._programs.pop(next(iter(self._programs)))
            self._programs[key] = self._lower(feeds, keep)
        return self._programs[key]

    def _lower(self, feeds: Mapping[str, np.ndarray], keep: bool) -> prog.Program | None:
        readers: dict[str, list[Step]] = {}
        for step in self.steps:
            for i in dict.fromkeys(step.layer.inputs):
                readers.setdefault(i, []).append(step)

        def want(name: str, shape: tuple[int, ...]) -> prog.Layout | None:
            """The layout the only reader of ``name`` reads it in (None: plain)."""
            steps = readers.get(name, [])
            if len(steps) != 1 or steps[0].want is None or steps[0].layer.inputs[0] != name:
                return None
            return steps[0].want(shape)

        lw = prog.Lowering(want)
        for name in self.model.inputs:
            q, spec = feeds[name], self.model.tensors[name]
            if q.ndim not in (2, 4) or q.dtype not in (np.int8, np.uint8):
                return None
            n, c, h, w = q.shape if q.ndim == 4 else (*q.shape, 1, 1)
            src = lw.input(name, q.size)
            if q.ndim == 4:
                ys, (hp, wp, pt, pl, cp) = lw.out_layout(name, (n, h, w, c), fills_all=True)
            else:
                ys, (hp, wp, pt, pl, cp) = lw.out(name, (n, c)), (1, 1, 0, 0, c)
            value = lw.padded[name][0] if name in lw.padded else 0
            lw.emit(prog.PAD_NCHW, ys, (src,),
                    (n, c, h, w, offset(spec) and 0x80, pt, pl, hp, wp, cp, value))  # fmt: skip
        done = 0
        for step in self.steps:
            if step.lower is None or not all(lw.has(i) for i in step.layer.inputs):
                break
            if not step.lower(lw):
                break
            done += 1
        if done == 0:
            return None
        later = {i for s in self.steps[done:] for i in s.layer.inputs}
        wanted = set(lw.slots) if keep else later | set(self.model.outputs)
        exports = [name for name in lw.slots if name in wanted]
        return prog.Program(lw, exports, done, self.path)

    @property
    def chunk(self) -> int:
        """Images per pass: the batch is split so the largest activation of a pass stays
        within about :data:`CHUNK_BYTES` (6 for MobileNetV2 at 224 x 224)."""
        return max(1, CHUNK_BYTES // max(self._largest, 1))

    def _run(self, feeds: Mapping[str, np.ndarray], keep: bool, worker: int = 0
             ) -> dict[str, np.ndarray]:  # fmt: skip
        env = Env(self.model.tensors)
        env.golden.update(self.model.constants)
        env.golden.update(feeds)
        program = self.program(feeds, keep, worker)
        if program is not None:
            env.u.update(program.run(feeds))
        for step in self.steps[program.n_steps if program is not None else 0 :]:
            step.run(env)
        names = list(env.golden) + list(env.u) if keep else self.model.outputs
        return {name: env.get_golden(name) for name in dict.fromkeys(names)}


#: Bytes of the largest activation of one pass over a chunk of the batch: bounds the
#: memory a large batch takes (measured speed-neutral on this machine).
CHUNK_BYTES = 1 << 23
