"""The benchmark at province scale (`python -m analytics bench`, `make bench`).

workload (the province and its export files), measure (timing and peak memory in fresh processes),
steps (what each child process times), baseline (the pandas + openpyxl script users run today),
report (ratios, growth exponents, targets, markdown), runner (the whole run).
"""

from analytics.bench.runner import run_bench, write_outputs

__all__ = ["run_bench", "write_outputs"]
