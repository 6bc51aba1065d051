"""Helpers for the end-to-end tests: a real `dagster dev` in its own process group, its GraphQL API
over plain HTTP, and bounded waiting.

    with DagsterDev(project_root, home=..., env={...}) as dev:
        dev.graphql("{ version }")
        dev.wait_until(lambda: ..., timeout=120, what="the run to finish")
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self, TypeVar

import psutil

T = TypeVar("T")

LOG_TAIL_LINES = 120


class E2EError(AssertionError):
    pass


class DagsterDevExited(RuntimeError):
    """dagster dev ended on its own: waiting any longer is pointless."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    probe: Callable[[], T], *, timeout: float, what: str, interval: float = 1.0,
    on_timeout: Callable[[], str] | None = None,
) -> T:
    """Calls `probe` until it returns something truthy; returns it, or fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
        except (OSError, E2EError) as error:  # not up yet, or a transient HTTP failure
            value, last_error = None, error
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            extra = f"\n{on_timeout()}" if on_timeout else ""
            raise E2EError(f"timed out after {timeout:.0f}s waiting for {what}{detail}{extra}")
        time.sleep(interval)


def instance_config(project_root: Path, *, run_monitoring_poll_seconds: int = 5) -> str:
    """The project's dagster.yaml with a shorter run-monitoring poll; pools and run retries as is."""
    text = (project_root / "dagster.yaml").read_text(encoding="utf-8")
    lines, in_monitoring = [], False
    for line in text.splitlines():
        if line and not line[0].isspace():
            in_monitoring = line.startswith("run_monitoring:")
        if in_monitoring and line.strip().startswith("poll_interval_seconds:"):
            indent = line[: len(line) - len(line.lstrip())]
            line = f"{indent}poll_interval_seconds: {run_monitoring_poll_seconds}"
        lines.append(line)
    return "\n".join(lines) + "\n"


class DagsterDev:
    """`dagster dev -w workspace.yaml` on a free loopback port, as a new process group.

    Its output goes to `log_path`; on exit the whole group (webserver, daemon, code server, run
    workers) is stopped and every process it started is checked to be gone.
    """

    def __init__(
        self,
        project_root: Path,
        *,
        home: Path,
        env: Mapping[str, str],
        cwd: Path,
        port: int | None = None,
        startup_timeout: float = 180,
    ):
        self.project_root = project_root
        self.home = home
        self.cwd = cwd
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "dagster-dev.log"
        self.startup_timeout = startup_timeout
        self._env = dict(env)
        self._process: subprocess.Popen[bytes] | None = None
        self._seen: dict[int, psutil.Process] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        dagster = Path(sys.executable).with_name("dagster")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TECHNE_", "DAGSTER_"))}
        env.update(self._env)
        env["DAGSTER_HOME"] = str(self.home)
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self._process = subprocess.Popen(
                [
                    str(dagster), "dev",
                    "-w", str(self.project_root / "workspace.yaml"),
                    "-h", "127.0.0.1", "-p", str(self.port),
                ],
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self.wait_until(self._location_loaded, timeout=self.startup_timeout,
                            what="dagster dev to serve the loaded code location", interval=1.0)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type, *exc_info: object) -> None:
        leftovers = self.stop()
        if exc_type is not None:
            print(self.log_tail())
        if leftovers:
            raise E2EError(f"processes left running after dagster dev stopped: {leftovers}")

    def _remember_processes(self) -> None:
        if self._process is None:
            return
        try:
            root = psutil.Process(self._process.pid)
            for proc in [root, *root.children(recursive=True)]:
                self._seen.setdefault(proc.pid, proc)
        except psutil.NoSuchProcess:
            pass

    def processes(self) -> list[psutil.Process]:
        """dagster dev and every process below it, now."""
        self._remember_processes()
        if self._process is None:
            return []
        try:
            root = psutil.Process(self._process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> list[str]:
        """Stops dagster dev and everything it started; returns what could not be stopped."""
        if self._process is None:
            return []
        self._remember_processes()
        pgid = self._process.pid
        if self._process.poll() is None:
            # dagster dev shuts its webserver, daemon and code server down on SIGINT/SIGTERM.
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            time.sleep(2 if sig == signal.SIGTERM else 0.5)
        for proc in self._seen.values():
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        if self._process.poll() is None:
            self._process.wait(timeout=10)
        _, alive = psutil.wait_procs(list(self._seen.values()), timeout=10)
        in_group = [
            p for p in psutil.process_iter(["pid"]) if _pgid(p.pid) == pgid and p.pid != os.getpid()
        ]
        self._process = None
        return sorted({f"{p.pid}:{_name(p)}" for p in [*alive, *in_group]})

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no dagster dev log)"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"---- last {lines} lines of {self.log_path.name} ----\n{tail}"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_until(self, probe: Callable[[], T], *, timeout: float, what: str,
                   interval: float = 1.0) -> T:
        def check() -> T:
            if self._process is not None and self._process.poll() is not None:
                raise DagsterDevExited(
                    f"dagster dev exited with {self._process.returncode}\n{self.log_tail()}"
                )
            self._remember_processes()
            return probe()

        return wait_until(check, timeout=timeout, what=what, interval=interval,
                          on_timeout=self.log_tail)

    # -- HTTP / GraphQL -------------------------------------------------------------------------

    def get(self, path: str, timeout: float = 10) -> bytes:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=timeout) as response:
            return response.read()

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None,
                timeout: float = 30) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode("utf-8")
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = json.load(response)
        except urllib.error.HTTPError as error:
            raise E2EError(f"GraphQL HTTP {error.code}: {error.read()[:500]!r}") from error
        if payload.get("errors"):
            raise E2EError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def _location_loaded(self) -> bool:
        info = json.loads(self.get("/server_info"))
        if "dagster_webserver_version" not in info:
            return False
        data = self.graphql(LOCATIONS_QUERY)
        entries = data["workspaceOrError"].get("locationEntries", [])
        for entry in entries:
            loaded = entry["locationOrLoadError"] or {}
            if loaded.get("__typename") == "PythonError":
                raise E2EError(f"code location {entry['name']} failed to load: {loaded['message']}")
        return bool(entries) and all(
            e["loadStatus"] == "LOADED" and (e["locationOrLoadError"] or {}).get("__typename")
            == "RepositoryLocation"
            for e in entries
        )

    # -- queries the tests share ----------------------------------------------------------------

    def runs(self, tags: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Runs (newest first) with their status and tags, filtered by tags."""
        variables = {"filter": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}}
        result = self.graphql(RUNS_QUERY, variables)["runsOrError"]
        if result["__typename"] != "Runs":
            raise E2EError(f"runsOrError: {result}")
        for run in result["results"]:
            run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
        return result["results"]

    def materializations(self, asset: str, partition: str) -> list[dict[str, Any]]:
        data = self.graphql(MATERIALIZATIONS_QUERY, {"path": [asset], "partitions": [partition]})
        result = data["assetOrError"]
        if result["__typename"] != "Asset":
            return []
        return result["assetMaterializations"]

    def sensor_ticks(self, sensor: str, location: str = "techne_assets") -> list[dict[str, Any]]:
        selector = {
            "repositoryLocationName": location,
            "repositoryName": "__repository__",
            "sensorName": sensor,
        }
        result = self.graphql(SENSOR_TICKS_QUERY, {"selector": selector})["sensorOrError"]
        if result["__typename"] != "Sensor":
            raise E2EError(f"sensorOrError: {result}")
        return result["sensorState"]["ticks"]

    def run_events(self, run_id: str) -> list[dict[str, Any]]:
        events, cursor = [], None
        while True:
            data = self.graphql(RUN_EVENTS_QUERY, {"runId": run_id, "cursor": cursor})
            result = data["logsForRun"]
            if result["__typename"] != "EventConnection":
                raise E2EError(f"logsForRun: {result}")
            events += result["events"]
            if not result["hasMore"]:
                return events
            cursor = result["cursor"]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _name(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline()[:4]) or proc.name()
    except psutil.Error:
        return "?"


LOCATIONS_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
        }
      }
    }
  }
}
"""

RUNS_QUERY = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs {
      results {
        runId
        status
        jobName
        tags { key value }
        assetSelection { path }
      }
    }
  }
}
"""

MATERIALIZATIONS_QUERY = """
query Materializations($path: [String!]!, $partitions: [String!]) {
  assetOrError(assetKey: {path: $path}) {
    __typename
    ... on Asset {
      assetMaterializations(partitions: $partitions) {
        partition
        runId
        timestamp
      }
    }
  }
}
"""

SENSOR_TICKS_QUERY = """
query SensorTicks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor {
      name
      sensorState {
        status
        ticks(limit: 50) {
          tickId
          status
          timestamp
          skipReason
          runIds
          error { message }
        }
      }
    }
  }
}
"""

RUN_EVENTS_QUERY = """
query RunEvents($runId: ID!, $cursor: String) {
  logsForRun(runId: $runId, afterCursor: $cursor) {
    __typename
    ... on EventConnection {
      cursor
      hasMore
      events {
        __typename
        ... on MessageEvent { message stepKey timestamp }
        ... on EngineEvent { metadataEntries { label ... on IntMetadataEntry { intValue } ... on TextMetadataEntry { text } } }
      }
    }
  }
}
"""
