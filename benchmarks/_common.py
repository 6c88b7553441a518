"""Shared by the benchmark scripts: timing, the machine's description, RESULTS.md sections."""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def _times(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def median_time(fn, repeats):
    """Median wall time of ``repeats`` calls of ``fn()``, in seconds."""
    return statistics.median(_times(fn, repeats))


def best_time(fn, repeats):
    """Fastest wall time of ``repeats`` calls of ``fn()``, in seconds."""
    return min(_times(fn, repeats))


def machine():
    """CPU model, cores, Python, NumPy and the BLAS libraries with their thread counts."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = ", ".join(
        f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads"
        f", {i.get('architecture')})"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )
    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"NumPy {np.__version__}; BLAS: {blas}"
    )


def write_section(key, title, body):
    """Replace (or append) the section between this key's markers in RESULTS.md."""
    begin, end = f"<!-- {key}:begin -->", f"<!-- {key}:end -->"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n## {title}\n\n{block}\n"
    RESULTS.write_text(text)


def publish(key, title, preamble, header, rows, write=True):
    """Print a Markdown table (``header``: column names, ``rows``: lists of cells) under
    ``preamble`` and, with ``write``, put it into its section of RESULTS.md."""
    align = ["---"] + ["---:"] * (len(header) - 1)
    lines = [preamble, "", f"| {' | '.join(header)} |", f"| {' | '.join(align)} |"]
    lines += [f"| {' | '.join(str(c) for c in row)} |" for row in rows]
    table = "\n".join(lines)
    print(table)
    if write:
        write_section(key, title, table)
