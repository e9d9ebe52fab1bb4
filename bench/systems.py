"""The three systems under test, each a process of its own on a local port.

* ``tightrope``: ``tightrope serve --workers N`` (one per core unless the
  bench says otherwise), as an operator starts it: outside dev mode, a PII
  key set, its own signing-key directory.
  The bench turns its rate limit off (``TIGHTROPE_RATE_LIMIT_PER_SECOND=0``):
  the default 50 requests/s per client would otherwise be what is measured.
  Access tokens live an hour (``TIGHTROPE_OAUTH_ACCESS_TOKEN_TTL=3600``), so
  the tokens minted at the start outlive the run. No shopper is held out
  (``TIGHTROPE_HOLDOUT_SHARE=0``): W2 measures the personal path, and a held-out
  customer would get the cheaper non-personal list the raw system never serves;
  the lists served are still recorded for the shop's figures, as in production.
* ``peer``: ``node bench/peer/server.mjs`` (@neo4j/graphql + Apollo Server),
  as that many Node processes (``PEER_PROCESSES``: a node:cluster whose
  primary hands connections to its workers in turn).
* ``raw``: ``python -m bench.raw`` (the gateway's Cypher on the bare driver),
  that many processes on the port (``--workers``).

``make_systems(..., workers=N)`` gives all three N processes: the bench
compares equal process counts.

Each process's CPU time is read from /proc/<pid>/stat before and after a
measured run: CPU per request is the figure that explains a throughput.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.dataset import BENCH_DATA_KEYS, BENCH_PII_KEY
from bench.fixtures import PEER_JWT_SECRET

ROOT = Path(__file__).resolve().parent.parent
PEER_DIR = ROOT / "bench" / "peer"
TICKS = os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    """The process and its live children, grandchildren and so on."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found.extend(_descendants(int(child)))
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time so far of a process and its live descendants.

    With ``--workers`` the gateway's requests are served by child processes,
    whose CPU the parent's own figure does not count until they exit.
    """
    total = 0
    for one in _descendants(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        # After the command name: state is field 3, utime 14 and stime 15 (1-based).
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def gateway_env(port: int, state_dir: Path) -> dict[str, str]:
    """Settings shared by the served gateway and the token minting child."""
    return {
        "TIGHTROPE_PII_KEY": BENCH_PII_KEY,
        "TIGHTROPE_DATA_KEYS": BENCH_DATA_KEYS,
        "TIGHTROPE_RATE_LIMIT_PER_SECOND": "0",
        "TIGHTROPE_HOLDOUT_SHARE": "0",
        "TIGHTROPE_OAUTH_ACCESS_TOKEN_TTL": "3600",
        "TIGHTROPE_OAUTH_ISSUER": f"http://127.0.0.1:{port}",
        "TIGHTROPE_OAUTH_KEYS_DIR": str(state_dir / "oauth"),
    }


@dataclass
class System:
    name: str
    url: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    ready_path: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 90.0) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it to answer (see :meth:`wait_ready`)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait until the launched process answers ``{ __typename }``."""
        assert self.proc is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited at start; see {self.log}")
            try:
                response = httpx.post(
                    self.url + self.ready_path, json={"query": "{ __typename }"}, timeout=2.0
                )
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise SystemExit(f"{self.name} did not answer within {timeout:.0f}s; see {self.log}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def make_systems(
    graph_env: dict[str, str],
    ports: dict[str, int],
    state_dir: Path,
    logs: Path,
    *,
    workers: int = 1,
) -> dict[str, System]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TIGHTROPE_", "NEO4J_"))}
    base.update(graph_env)
    python = sys.executable
    tightrope = str(Path(python).with_name("tightrope"))
    gw_port, peer_port, raw_port = ports["tightrope"], ports["peer"], ports["raw"]
    return {
        "tightrope": System(
            "tightrope",
            f"http://127.0.0.1:{gw_port}",
            [tightrope, "serve", "--host", "127.0.0.1", "--port", str(gw_port)]
            + (["--workers", str(workers)] if workers > 1 else []),
            {**base, **gateway_env(gw_port, state_dir)},
            ROOT,
            logs / "tightrope.log",
            "/graphql",
        ),
        "peer": System(
            "peer",
            f"http://127.0.0.1:{peer_port}",
            ["node", "server.mjs"],
            {
                **base,
                "PEER_PORT": str(peer_port),
                "PEER_JWT_SECRET": PEER_JWT_SECRET,
                "PEER_PROCESSES": str(workers),
            },
            PEER_DIR,
            logs / "peer.log",
            "/",
        ),
        "raw": System(
            "raw",
            f"http://127.0.0.1:{raw_port}",
            [python, "-m", "bench.raw", "--port", str(raw_port), "--workers", str(workers)],
            base,
            ROOT,
            logs / "raw.log",
            "/typename",
        ),
    }
