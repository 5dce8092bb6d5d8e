"""Human-readable reports: per-layer tables and memory footprints."""

from plutflow.report.layers import layer_rows, layer_table
from plutflow.report.memory import MemoryReport, memory_report

__all__ = ["MemoryReport", "layer_rows", "layer_table", "memory_report"]
