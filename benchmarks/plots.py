"""PNG plots of benchmark results (matplotlib, Agg backend: no display needed).

python -m benchmarks.plots   # redraw every plot from benchmarks/results/*.json into docs/perf/
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchmarks.common import RESULTS, ROOT

PERF = ROOT / "docs" / "perf"


def _save(fig: Any, png: Path) -> Path:
    """Lay out, write and close a figure."""
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def rss_plot(result: Path, png: Path) -> Path:
    data = json.loads(result.read_text())
    samples = data["figures"]["rss_samples"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot([s["t"] for s in samples], [s["rss_mib"] for s in samples], marker="o")
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("server RSS (MiB)")
    ax.set_ylim(bottom=0)
    f = data["figures"]
    ax.set_title(
        f"e2e on {data['store']}: RSS every {data['params']['rss_every']:.0f} s, "
        f"{f['workflows']} workflows, {f['workflows_per_second']}/s"
    )
    ax.grid(alpha=0.3)
    return _save(fig, png)


def list_curve(results: list[Path], png: Path) -> Path:
    """p95 per page against stored requests: one panel per store, one line per query."""
    fig, axes = plt.subplots(1, max(1, len(results)), figsize=(11, 4.2), sharey=True, squeeze=False)
    for ax, result in zip(axes[0], results, strict=False):
        data = json.loads(result.read_text())
        sizes = data["figures"]["sizes"]
        for name in list(sizes[0]["queries"]) if sizes else []:
            style = "-" if name.startswith("list") else "--"
            xs = [s["rows"] for s in sizes]
            ys = [s["queries"][name]["p95_ms"] for s in sizes]
            ax.plot(xs, ys, style, marker="o", label=name)
        ax.axhline(20, color="red", linestyle=":", linewidth=1.2, label="target p95 20 ms")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("stored requests")
        ax.set_title(f"{data['store']} (load {data['load_before']['load1']}→{data['load_after'].get('load1', '?')})")
        ax.grid(alpha=0.3, which="both")
        ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("p95 per page over HTTP (ms)")
    fig.suptitle("List API and checker inbox: cost as the store grows")
    return _save(fig, png)


def latency_plot(results: list[Path], png: Path) -> Path:
    """Approval → `approved` p50 and p99 against the offered workflow rate, one colour per store."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for result in results:
        data = json.loads(result.read_text())
        steps = data["figures"]["steps"]
        xs = [s["offered_per_second"] for s in steps]
        line = ax.plot(xs, [s["approval_p99_ms"] for s in steps], marker="o", label=f"{data['store']} p99")
        ax.plot(xs, [s["approval_p50_ms"] for s in steps], "--", marker=".", color=line[0].get_color(),
                label=f"{data['store']} p50")  # fmt: skip
    ax.axhline(50, color="red", linestyle=":", linewidth=1.2, label="target p99 50 ms")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("offered end-to-end workflows per second (Poisson arrivals)")
    ax.set_ylabel("approval → approved (ms)")
    ax.set_title("Approval latency against offered load (one server process)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, png)


def main() -> None:
    for store in ("sqlite", "postgresql"):
        e2e = RESULTS / f"e2e-{store}.json"
        if e2e.exists():
            print(rss_plot(e2e, PERF / f"e2e-rss-{store}.png"))
    latencies = sorted(RESULTS.glob("latency-*.json"))
    if latencies:
        print(latency_plot(latencies, PERF / "approval-latency-vs-load.png"))
    lists = sorted(RESULTS.glob("list-*.json"))
    if lists:
        print(list_curve(lists, PERF / "list-cost-curve.png"))


if __name__ == "__main__":
    main()
