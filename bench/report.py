"""The bench's results: a JSON file and a PNG chart under bench/results/."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

from bench.workloads import SYSTEMS, WORKLOADS
from bench.wrk import Run

ROOT = Path(__file__).resolve().parent.parent
TITLES = {
    "w1": "W1 profile (me + 5 purchases)",
    "w2": "W2 me + 10 recommendations",
    "w3": "W3 product page",
    "w4": "W4 trackEvents, 50 views",
    "typename": "{ __typename }",
}
COLOURS = {"tightrope": "#d9534f", "peer": "#5bc0de", "raw": "#777777"}


# Upper bounds (ms) of the latency histogram kept in the results: the tail's shape.
BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def histogram_ms(run: Run) -> dict[str, int]:
    """How many requests took at most each bound (and "more"), from wrk's whole histogram."""
    counts = dict.fromkeys([*(str(b) for b in BUCKETS_MS), "more"], 0)
    for micros, n in run.histogram.items():
        bound = next((str(b) for b in BUCKETS_MS if micros <= b * 1000), "more")
        counts[bound] += n
    return counts


def cell(run: Run, cpu_pids: dict[str, str]) -> dict[str, Any]:
    """One (system, concurrency) figure set; CPU per request per process, in ms."""
    out: dict[str, Any] = {
        "rps": round(run.rps, 1),
        "p50": run.percentile_ms(50),
        "p90": run.percentile_ms(90),
        "p95": run.percentile_ms(95),
        "p99": run.percentile_ms(99),
        "p999": run.percentile_ms(99.9),
        "max": run.percentile_ms(100),
        "requests": run.requests,
        "seconds": round(run.seconds, 2),
        "errors": dict(run.errors),
        "histogram_ms": histogram_ms(run),
    }
    for label, name in cpu_pids.items():
        if run.requests and name in run.cpu:
            out[f"cpu_ms_per_request_{label}"] = round(1000 * run.cpu[name] / run.requests, 3)
    return out


def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    if not a or not b or not b.get("rps"):
        return None
    return round(float(a["rps"]) / float(b["rps"]), 3)


def machine() -> dict[str, Any]:
    model = ""
    try:
        match = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        model = match.group(1).strip() if match else ""
    except OSError:
        pass
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        node = None
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory_gb, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "node": node,
        "wrk": (wrk.stdout or wrk.stderr).split("\n")[0].strip(),
    }


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def fresh_path(path: Path) -> Path:
    """``path``, or ``<stem>-2<suffix>``, ``-3``... if taken: a result is never overwritten."""
    found, n = path, 1
    while found.exists():
        n += 1
        found = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return found


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def table(results: dict[str, Any], concurrency: str) -> str:
    """A Markdown table of one process count and concurrency: rps and p50/p99 per workload
    and system (``results``: one entry of the results' ``processes``)."""
    lines = [
        "| workload | tightrope rps | peer rps | raw rps | tightrope p50 / p99 ms "
        "| peer p50 / p99 ms | raw p50 / p99 ms | ratio peer | ratio raw |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for w in WORKLOADS:
        if w not in results:
            continue
        row = [TITLES[w]]
        cells: dict[str, dict[str, Any] | None] = {
            s: (results[w].get(s) or {}).get(concurrency) for s in SYSTEMS
        }
        for s in SYSTEMS:
            c = cells[s]
            row.append(f"{c['rps']:,.0f}" if c else "—")
        for s in SYSTEMS:
            c = cells[s]
            row.append(f"{c['p50']:.1f} / {c['p99']:.1f}" if c and c["p50"] is not None else "—")
        for key in ("ratio_rps_peer", "ratio_rps_raw"):
            r = (results[w].get(key) or {}).get(concurrency)
            row.append(f"{r:.2f}" if r is not None else "—")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def chart(path: Path, results: dict[str, Any]) -> None:
    """Per process count: throughput (both concurrencies) and p50/p99 at the highest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = results["processes"]
    workloads = [w for w in WORKLOADS if any(w in by_w for by_w in shapes.values())]
    concurrencies = [str(c) for c in results["settings"]["concurrency"]]
    top = concurrencies[-1]
    fig, axes = plt.subplots(
        2 * len(shapes),
        len(workloads),
        figsize=(4.2 * len(workloads), 7.0 * len(shapes)),
        squeeze=False,
    )
    width = 0.8 / len(SYSTEMS)
    for block, (n, by_workload) in enumerate(shapes.items()):
        for col, w in enumerate(workloads):
            entry = by_workload.get(w) or {}
            ax = axes[2 * block][col]
            for i, s in enumerate(SYSTEMS):
                cells = entry.get(s) or {}
                values = [(cells.get(c) or {}).get("rps", 0) for c in concurrencies]
                xs = [j + (i - 1) * width for j in range(len(concurrencies))]
                ax.bar(xs, values, width, label=s, color=COLOURS[s])
            ax.set_xticks(range(len(concurrencies)), [f"{c} conn." for c in concurrencies])
            ax.set_title(f"{TITLES[w]}\n{n} process(es) each", fontsize=10)
            if col == 0:
                ax.set_ylabel("requests / s")
                ax.legend(fontsize=8)
            ax = axes[2 * block + 1][col]
            for i, s in enumerate(SYSTEMS):
                c = (entry.get(s) or {}).get(top)
                if not c or c["p50"] is None:
                    continue
                ax.bar(i, c["p50"], 0.6, color=COLOURS[s])
                ax.plot([i - 0.3, i + 0.3], [c["p99"], c["p99"]], color="black", linewidth=2)
            ax.set_xticks(range(len(SYSTEMS)), list(SYSTEMS))
            if col == 0:
                ax.set_ylabel(f"latency ms at {top} conn.\n(bar p50, line p99)")
    load = results.get("load", {})
    fig.suptitle(
        f"tightrope vs @neo4j/graphql (peer) vs raw driver — {results['machine']['cores']} cores, "
        f"{results['settings']['graph']['events']:,} events; load avg before/after "
        f"{load.get('before', ['?'])[0]} / {load.get('after', ['?'])[0]}",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
