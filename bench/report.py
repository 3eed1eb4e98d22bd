"""Numbers into a table, a JSON file and (if matplotlib is installed) a plot."""

from __future__ import annotations

import importlib
import json
import math
import resource
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no data, so an empty run is visible, not zero."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def current_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mib()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def table(rows: list[tuple[str, Any, str]]) -> str:
    width = max(len(name) for name, _, _ in rows)
    vwidth = max(len(_fmt(v)) for _, v, _ in rows)
    lines = [f"{'measure':<{width}}  {'value':>{vwidth}}  note", "-" * (width + vwidth + 30)]
    lines += [f"{name:<{width}}  {_fmt(v):>{vwidth}}  {note}" for name, v, note in rows]
    return "\n".join(lines)


def write_json(out: Path, results: dict[str, Any]) -> Path:
    path = out / "bench-results.json"
    path.write_text(json.dumps(results, indent=2, allow_nan=True) + "\n", encoding="utf-8")
    return path


def plot(
    out: Path,
    offered: list[dict[str, Any]],
    echo_ceiling: float,
    others: Mapping[str, list[dict[str, Any]]] | None = None,
) -> str:
    """Latency against offered load (the real bot's p50 and p99, and the p99 of each of
    ``others`` under the same rates); a message instead when matplotlib is missing."""
    try:
        matplotlib = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        plt = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        return (
            "plot skipped: matplotlib is not installed "
            "(add it as an optional 'bench' extra: matplotlib>=3.8)"
        )
    rates = [row["offered_per_second"] for row in offered]
    if not rates:
        return "plot skipped: no offered rates"
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
        ax.plot(rates, [row[key] for row in offered], marker="o", label=label)
    for name, rows in (others or {}).items():
        ax.plot(
            [row["offered_per_second"] for row in rows],
            [row["p99_ms"] for row in rows],
            marker=".",
            linestyle=":",
            label=f"{name} p99",
        )
    ax.axvline(echo_ceiling, linestyle="--", color="grey", label="echo ceiling")
    ax.set_xlabel("offered applicant actions per second")
    ax.set_ylabel("latency to first reply (ms)")
    ax.set_yscale("log")
    ax.legend()
    path = out / "latency-vs-load.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return f"plot: {path}"
