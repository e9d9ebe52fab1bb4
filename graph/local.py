"""A local Neo4j Community server for development and tests.

Machines without Docker still need a real Neo4j. We ask Maven for the runtime
classpath of Neo4j Community (``graph/neo4j/pom.xml``) and run the server's own
entry point, ``org.neo4j.server.CommunityEntryPoint``, on it with a generated
``neo4j.conf``. We chose the entry point over the test harness because it is the
same code path as a packaged Neo4j (same config keys, same logs, same auth) and
needs no Java of ours to compile.

Maven caches the jars in ``~/.m2``; we cache the resolved classpath beside the
server's data, so a second start asks Maven nothing and takes seconds.

Each port gets its own server home under ``$TIGHTROPE_HOME/neo4j/<port>``
(default ``~/.cache/tightrope``), so the test server never touches the data of
the one ``make run`` uses.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

NEO4J_VERSION = "5.26.30"
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_TOOL = "org.neo4j.cli.AdminTool"
USER = "neo4j"
POM = Path(__file__).with_name("neo4j") / "pom.xml"

# Neo4j's own launcher opens these modules; without them Netty and the page cache
# fail on Java 17.
JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-Djdk.nio.maxCachedBufferSize=262144",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dfile.encoding=UTF-8",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
)


class LocalNeo4jError(Exception):
    """The local server could not be fetched, started or reached; the message says why."""


@dataclass(frozen=True)
class Connection:
    uri: str
    user: str
    password: str


def default_home() -> Path:
    return Path(os.environ.get("TIGHTROPE_HOME", Path.home() / ".cache" / "tightrope"))


@dataclass(frozen=True)
class LocalServer:
    """One local server: its files live in ``home``, Bolt listens on ``port``."""

    port: int = 7687
    root: Path | None = None
    heap: str = os.environ.get("TIGHTROPE_NEO4J_HEAP", "1g")
    pagecache: str = os.environ.get("TIGHTROPE_NEO4J_PAGECACHE", "512m")

    @property
    def home(self) -> Path:
        return (self.root or default_home()) / "neo4j" / str(self.port)

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "neo4j.log"

    @property
    def console_file(self) -> Path:
        return self.home / "logs" / "console.log"

    @property
    def _pid_file(self) -> Path:
        return self.home / "neo4j.pid"

    @property
    def _password_file(self) -> Path:
        return self.home / "password"

    @property
    def _classpath_file(self) -> Path:
        return self.home / f"classpath-{NEO4J_VERSION}.txt"

    # -- public operations ----------------------------------------------------

    def start(self, timeout: float = 120.0) -> Connection:
        """Start the server unless it already runs; return how to reach it."""
        if self.pid() is not None:
            conn = self.connection()
            _wait_for_bolt(conn, timeout, self)
            return conn
        java = _require(
            "java", "Install OpenJDK 17 (Debian: apt-get install openjdk-17-jre-headless)."
        )
        if _port_taken(self.port):
            raise LocalNeo4jError(
                f"port {self.port} is already in use by another process; "
                "stop it or choose another port with --port"
            )
        classpath = self._classpath()
        self._write_config()
        first_start = not (self.home / "data" / "dbms").exists()
        if first_start:
            self._set_initial_password(java, classpath)
        self.console_file.parent.mkdir(parents=True, exist_ok=True)
        with self.console_file.open("ab") as console:
            proc = subprocess.Popen(
                [
                    java,
                    f"-Xms{self.heap}",
                    f"-Xmx{self.heap}",
                    *JVM_FLAGS,
                    "-cp",
                    classpath,
                    ENTRY_POINT,
                    f"--home-dir={self.home}",
                    f"--config-dir={self.home / 'conf'}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the CLI that started it
                env={**os.environ, "NEO4J_HOME": str(self.home)},
            )
        self._pid_file.write_text(str(proc.pid))
        conn = self.connection()
        try:
            _wait_for_bolt(conn, timeout, self, proc)
        except LocalNeo4jError:
            self.stop()
            raise
        return conn

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the server; True if one was running."""
        pid = self.pid()
        if pid is None:
            self._pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)
        return True

    def pid(self) -> int | None:
        """The pid of this port's running server, or None."""
        try:
            pid = int(self._pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def connection(self) -> Connection:
        try:
            password = self._password_file.read_text().strip()
        except FileNotFoundError as exc:
            raise LocalNeo4jError(
                f"no local Neo4j has been set up on port {self.port}; run `tightrope neo4j start`"
            ) from exc
        return Connection(uri=self.uri, user=USER, password=password)

    def log_tail(self, lines: int = 30) -> str:
        chunks = []
        for path in (self.console_file, self.log_file):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                chunks.append(f"--- {path} ---\n" + "\n".join(text))
        return "\n".join(chunks) or "(no log written)"

    # -- steps ----------------------------------------------------------------

    def _classpath(self) -> str:
        """The server's classpath: cached after the first Maven resolution."""
        if self._classpath_file.exists():
            cp = self._classpath_file.read_text().strip()
            if cp and all(Path(p).exists() for p in cp.split(os.pathsep)):
                return cp
        mvn = _require("mvn", "Install Maven (Debian: apt-get install maven).")
        self.home.mkdir(parents=True, exist_ok=True)
        out = self.home / "classpath.tmp"
        result = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "-f",
                str(POM),
                "dependency:build-classpath",
                f"-Dneo4j.version={NEO4J_VERSION}",
                f"-Dmdep.outputFile={out}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not out.exists():
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            raise LocalNeo4jError(
                f"Maven could not fetch Neo4j {NEO4J_VERSION} (exit {result.returncode}):\n{tail}"
            )
        out.replace(self._classpath_file)
        return self._classpath_file.read_text().strip()

    def _write_config(self) -> None:
        for sub in ("conf", "data", "logs", "import", "plugins", "run"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        settings = {
            "server.default_listen_address": "127.0.0.1",
            "server.bolt.listen_address": f"127.0.0.1:{self.port}",
            "server.bolt.advertised_address": f"127.0.0.1:{self.port}",
            "server.http.enabled": "false",
            "server.https.enabled": "false",
            "dbms.security.auth_enabled": "true",
            "dbms.usage_report.enabled": "false",
            "server.memory.heap.initial_size": self.heap,
            "server.memory.heap.max_size": self.heap,
            "server.memory.pagecache.size": self.pagecache,
            "db.tx_log.rotation.retention_policy": "1G size",
            # Neo4j keys its plan cache by the size bucket (0, 1, 2-10, 11-100,
            # ...) of every list and string parameter, so a batch of 8 access
            # records or 20 recommendation keys was planned afresh on the
            # request path although the warm-up had run the statement with 1
            # (docs/performance.md, the soak). Our statements look up each row
            # by index whatever the size, so one plan per statement serves.
            "internal.cypher.use_parameter_size": "false",
            "server.directories.data": str(self.home / "data"),
            "server.directories.logs": str(self.home / "logs"),
            "server.directories.import": str(self.home / "import"),
            "server.directories.plugins": str(self.home / "plugins"),
            "server.directories.run": str(self.home / "run"),
        }
        lines = [f"{k}={v}" for k, v in settings.items()]
        (self.home / "conf" / "neo4j.conf").write_text("\n".join(lines) + "\n")

    def _set_initial_password(self, java: str, classpath: str) -> None:
        # A random password per server, readable only by its owner: a loopback
        # server with auth off would be open to every local user.
        password = secrets.token_urlsafe(24)
        # neo4j-admin would read a password starting with "-" as an option.
        while password.startswith("-"):
            password = secrets.token_urlsafe(24)
        result = subprocess.run(
            [java, "-cp", classpath, ADMIN_TOOL, "dbms", "set-initial-password", password],
            capture_output=True,
            text=True,
            check=False,
            env={
                **os.environ,
                "NEO4J_HOME": str(self.home),
                "NEO4J_CONF": str(self.home / "conf"),
            },
        )
        if result.returncode != 0:
            tail = "\n".join(result.stderr.splitlines()[:5])
            raise LocalNeo4jError(f"could not set the initial Neo4j password:\n{tail}")
        self._password_file.touch(mode=0o600)
        self._password_file.write_text(password)
        (self.home / "connection.json").write_text(
            json.dumps({"uri": self.uri, "user": USER, "version": NEO4J_VERSION})
        )


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise LocalNeo4jError(f"`{tool}` was not found on PATH. {hint}")
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (we started it in this process) is not alive.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_bolt(
    conn: Connection,
    timeout: float,
    server: LocalServer,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Block until a Bolt session answers a query, or fail with the log tail."""
    from neo4j import GraphDatabase
    from neo4j.exceptions import Neo4jError, ServiceUnavailable

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise LocalNeo4jError(
                f"Neo4j exited with status {proc.returncode} before Bolt answered.\n"
                + server.log_tail()
            )
        if _port_taken(server.port):
            try:
                with GraphDatabase.driver(conn.uri, auth=(conn.user, conn.password)) as driver:
                    driver.execute_query("RETURN 1")
                return
            except (ServiceUnavailable, Neo4jError, OSError) as exc:
                last = exc
        time.sleep(0.25)
    raise LocalNeo4jError(
        f"Neo4j did not answer on {conn.uri} within {timeout:.0f}s ({last}).\n" + server.log_tail()
    )
