"""Design-space sweeps (``plutflow sweep``): a grid of quantizer and overlay options,
each point quantized, evaluated, compiled and modelled on Dask, cached by content hash,
reported with Pareto plots. :mod:`.spec` parses ``SWEEP.yaml``, :mod:`.tasks` is what
workers run, :mod:`.cache` stores results, :mod:`.runner` drives Dask, :mod:`.report`
writes the tables and plots."""

from plutflow.sweep.runner import SweepRun, collect, run_sweep
from plutflow.sweep.spec import SweepError, SweepSpec

__all__ = ["SweepError", "SweepRun", "SweepSpec", "collect", "run_sweep"]
