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


def cell(run: Run, cpu_pids: dict[str, str]) -> dict[str, Any]:
    """One (system, concurrency) figure set; CPU per request per process, in ms."""
    out: dict[str, Any] = {
        "rps": round(run.rps, 1),
        "p50": run.percentile_ms(50),
        "p95": run.percentile_ms(95),
        "p99": run.percentile_ms(99),
        "requests": run.requests,
        "seconds": round(run.seconds, 2),
        "errors": dict(run.errors),
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
    """A Markdown table of one concurrency: rps and p50/p99 per workload and system."""
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
    """Throughput (both concurrencies) and p50/p99 at the highest, per workload and system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = [w for w in WORKLOADS if w in results]
    concurrencies = [str(c) for c in results["settings"]["concurrency"]]
    top = concurrencies[-1]
    fig, axes = plt.subplots(2, len(workloads), figsize=(4.2 * len(workloads), 7.5), squeeze=False)
    width = 0.8 / len(SYSTEMS)
    for col, w in enumerate(workloads):
        ax = axes[0][col]
        for i, s in enumerate(SYSTEMS):
            cells = results[w].get(s) or {}
            values = [(cells.get(c) or {}).get("rps", 0) for c in concurrencies]
            xs = [j + (i - 1) * width for j in range(len(concurrencies))]
            ax.bar(xs, values, width, label=s, color=COLOURS[s])
        ax.set_xticks(range(len(concurrencies)), [f"{c} conn." for c in concurrencies])
        ax.set_title(TITLES[w], fontsize=10)
        if col == 0:
            ax.set_ylabel("requests / s")
            ax.legend(fontsize=8)
        ax = axes[1][col]
        for i, s in enumerate(SYSTEMS):
            c = (results[w].get(s) or {}).get(top)
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
