"""Running ``wrk`` (Debian's package): one closed-loop run at a fixed concurrency.

A run's Lua script is a prelude of data (the rotation's bodies and tokens)
followed by a static script from bench/lua/ and bench/lua/report.lua, whose
``done`` prints the whole latency histogram, so that the rounds of one cell
are merged into exact percentiles rather than averaged ones.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LUA = Path(__file__).with_name("lua")


class WrkMissing(SystemExit):
    pass


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing(
            "wrk is not installed: `apt-get install -y wrk` (Debian's package), then run again"
        )
    return path


def lua_value(value: Any) -> str:
    """A Python value as a Lua literal (strings in long brackets: bodies hold quotes)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        level = "=" * 3
        assert f"]{level}]" not in value
        return f"[{level}[{value}]{level}]"
    if isinstance(value, list | tuple):
        return "{\n" + ",\n".join(lua_value(v) for v in value) + "\n}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def write_script(path: Path, static: str, prelude: Mapping[str, Any]) -> Path:
    lines = [f"{name} = {lua_value(value)}" for name, value in prelude.items()]
    parts = ["\n".join(lines), (LUA / static).read_text(), (LUA / "report.lua").read_text()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts))
    return path


@dataclass
class Run:
    requests: int = 0
    seconds: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    histogram: Counter[int] = field(default_factory=Counter)  # microseconds -> count
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds used

    def add(self, other: Run) -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.errors.update(other.errors)
        self.histogram.update(other.histogram)
        for name, seconds in other.cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + seconds

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, p: float) -> float | None:
        total = sum(self.histogram.values())
        if not total:
            return None
        rank = max(1, math.ceil(total * p / 100))
        seen = 0
        for value in sorted(self.histogram):
            seen += self.histogram[value]
            if seen >= rank:
                return value / 1000
        return max(self.histogram) / 1000


def merged(runs: Iterable[Run]) -> Run:
    total = Run()
    for r in runs:
        total.add(r)
    return total


def run_wrk(url: str, script: Path, connections: int, seconds: float, threads: int = 1) -> Run:
    """One wrk run; a request that fails or answers non-2xx counts as an error."""
    argv = [
        require_wrk(),
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH ")), None)
    if out.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout}")
    data = json.loads(line[len("BENCH ") :])
    histogram: Counter[int] = Counter()
    if data["histogram"]:
        for pair in data["histogram"].split(","):
            value, count = pair.split(":")
            histogram[int(float(value))] += int(float(count))
    errors = Counter({k: int(data[k]) for k in ("connect", "read", "write", "status", "timeout")})
    return Run(
        requests=int(data["requests"]),
        seconds=int(data["duration_us"]) / 1e6,
        errors=+errors,
        histogram=histogram,
    )
