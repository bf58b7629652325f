"""Run one `dora refresh` in a subprocess and measure it.

Measured: wall and CPU time and peak memory from `/usr/bin/time -v`, the
peak summed memory of the whole process tree (the refresh and the dbt
processes it starts) sampled from /proc, the Dagster step times from the
run's event log (a private DAGSTER_HOME), the time of every dbt node from the
`run_results.json` files of a private dbt target folder, and the size of the
DuckDB file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class RefreshResult:
    """The cost of one refresh."""

    label: str
    wall_s: float
    user_s: float
    sys_s: float
    max_rss_mib: float
    tree_rss_mib: float
    warehouse_mib: float
    load_before: float
    load_after: float
    steps: dict[str, float] = field(default_factory=dict)
    nodes: list[dict] = field(default_factory=list)

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    def to_dict(self) -> dict:
        return {**asdict(self), "cpu_s": self.cpu_s}


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _tree_rss_kib(root: int) -> int:
    tree = _children()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(tree.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
                total += int(handle.read().split()[1]) * PAGE_KIB
        except (OSError, IndexError, ValueError):
            continue
    return total


class TreeSampler(threading.Thread):
    """Sample the summed resident memory of a process and its descendants."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kib = pid, interval, 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak_kib = max(self.peak_kib, _tree_rss_kib(self.pid))
            self.stopped.wait(self.interval)


def _parse_time_file(text: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for name, key in (
        ("User time (seconds)", "user_s"),
        ("System time (seconds)", "sys_s"),
        ("Maximum resident set size (kbytes)", "max_rss_kib"),
    ):
        match = re.search(re.escape(name) + r": ([0-9.]+)", text)
        values[key] = float(match.group(1)) if match else float("nan")
    match = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([0-9:.]+)", text)
    seconds = 0.0
    for part in (match.group(1) if match else "0").split(":"):
        seconds = seconds * 60 + float(part)
    values["wall_s"] = seconds
    return values


def step_times(dagster_home: Path) -> dict[str, float]:
    """Return the wall time of every step of the newest run in ``dagster_home``."""
    script = (
        "import json, dagster as dg\n"
        "instance = dg.DagsterInstance.get()\n"
        "run = instance.get_runs(limit=1)[0]\n"
        "stats = instance.get_run_step_stats(run.run_id)\n"
        "print(json.dumps({s.step_key: (s.end_time or 0) - (s.start_time or 0) for s in stats}))\n"
    )
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "DAGSTER_DISABLE_TELEMETRY": "1"}
    output = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    return {key: round(value, 2) for key, value in json.loads(output.splitlines()[-1]).items()}


def dbt_node_times(target_root: Path) -> list[dict]:
    """Return every dbt node's execution time from the run_results.json files under a folder."""
    nodes = []
    for path in sorted(target_root.glob("**/run_results.json")):
        for result in json.loads(path.read_text("utf-8")).get("results", []):
            unique_id = result["unique_id"]
            nodes.append(
                {
                    "node": unique_id.split(".", 2)[-1]
                    if unique_id.startswith("test.")
                    else unique_id.split(".")[-1],
                    "kind": unique_id.split(".")[0],
                    "seconds": round(float(result.get("execution_time") or 0), 2),
                    "status": result.get("status"),
                }
            )
    return sorted(nodes, key=lambda node: -node["seconds"])


def run_refresh(
    label: str,
    events: Path,
    warehouse: Path,
    as_of: str,
    workdir: Path,
    python: str,
    incremental: bool = False,
    parse_state_from: Path | None = None,
) -> RefreshResult:
    """Run `dora refresh` once against ``warehouse`` and return what it cost.

    With ``incremental`` the run is `dora refresh --incremental` (the job that
    keeps incremental dbt models instead of rebuilding them).
    ``parse_state_from`` is the run folder of an earlier refresh of the same
    warehouse: its saved dbt parse state is copied in, as a second refresh
    with the default target folder would find it.
    """
    run_dir = workdir / label
    # A new run folder, so results of an earlier run are never counted again.
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    dagster_home = run_dir / "dagster_home"
    dagster_home.mkdir(exist_ok=True)
    target = run_dir / "dbt_target"
    saved_state = (
        None if parse_state_from is None else parse_state_from / "dbt_target" / "partial_parse"
    )
    if saved_state is not None and saved_state.is_dir():
        shutil.copytree(saved_state, target / "partial_parse")
    time_file = run_dir / "time.txt"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(run_dir / "dbt_logs"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    env.pop("DORA_PROGRESS", None)
    command = [
        "/usr/bin/time", "-v", "-o", str(time_file),
        python, "-m", "dagster_project.cli", "refresh",
        "--events", str(events), "--warehouse", str(warehouse), "--as-of", as_of,
    ]  # fmt: skip
    if incremental:
        command.append("--incremental")
    load_before = os.getloadavg()[0]
    with (run_dir / "stdout.txt").open("w") as out, (run_dir / "stderr.txt").open("w") as err:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        sampler = TreeSampler(process.pid)
        sampler.start()
        code = process.wait()
        sampler.stopped.set()
        sampler.join()
    load_after = os.getloadavg()[0]
    if code != 0:
        tail = (run_dir / "stderr.txt").read_text()[-3000:]
        raise RuntimeError(f"refresh {label} failed with status {code}:\n{tail}")
    measured = _parse_time_file(time_file.read_text())
    return RefreshResult(
        label=label,
        wall_s=measured["wall_s"],
        user_s=measured["user_s"],
        sys_s=measured["sys_s"],
        max_rss_mib=round(measured["max_rss_kib"] / 1024, 1),
        tree_rss_mib=round(sampler.peak_kib / 1024, 1),
        warehouse_mib=round(warehouse.stat().st_size / 2**20, 1),
        load_before=round(load_before, 2),
        load_after=round(load_after, 2),
        steps=step_times(dagster_home),
        nodes=dbt_node_times(target),
    )


def wait_for_load(limit: float, timeout: float) -> float:
    """Wait until the 1-minute load average is at most ``limit`` or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while os.getloadavg()[0] > limit and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]
