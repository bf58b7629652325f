"""Time one refresh of a sample on DuckDB, PostgreSQL and Spark.

Usage: `python -m benchmarks.engines [--sizes default,large] [--engines duckdb,postgres,spark]`.
`default` is the embedded sample (data/sample) as of its measurement time;
other sizes are generated as `benchmarks.run` does. Each refresh is a full
`dora refresh` into a new DuckDB file with `DORA_ENGINE` set; PostgreSQL is
a throwaway server on 127.0.0.1 (tests/engine_servers.py) and Spark a local
session with two cores. The server's own CPU time is read from /proc,
because the server is not a child of the refresh. Results go to
benchmarks/engine_results.json and the table of docs/benchmarks.md between
the `engines:start` and `engines:end` markers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.measure import run_refresh
from benchmarks.run import END_DATE, ORG_ZONE, generate, machine
from dagster_project import settings
from tests.engine_servers import postgres_server, spark_settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "engine_results.json"
PAGE = ROOT / "docs" / "benchmarks.md"
START_MARKER = "<!-- engines:start (written by python -m benchmarks.engines) -->"
END_MARKER = "<!-- engines:end -->"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(port: str) -> float:
    """Return the CPU time of the PostgreSQL server on ``port`` and its reaped backends."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if command[0].endswith(b"postgres") and f"-p {port}".encode() in b" ".join(command):
            fields = stat.rsplit(")", 1)[1].split()
            # utime, stime, cutime, cstime: fields 14 to 17 of /proc/PID/stat.
            return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS
    raise LookupError(f"no PostgreSQL server process listens on port {port}")


def sample_input(size: str, workdir: Path) -> tuple[Path, str, dict]:
    """Return the events folder, the measurement time and the counts of a size."""
    if size == "default":
        return settings.SAMPLE_EVENTS_DIR, settings.SAMPLE_AS_OF, {}
    events = workdir / size / "events_full"
    counts = generate(size, events, sys.executable)
    end = datetime.combine(END_DATE + timedelta(days=1), datetime.min.time(), ORG_ZONE)
    return events, end.isoformat(), counts


def bench(size: str, engine: str, workdir: Path) -> dict:
    events, as_of, counts = sample_input(size, workdir)
    run_dir = workdir / size / engine
    warehouse = run_dir / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    with ExitStack() as stack:
        environment = {"DORA_ENGINE": engine}
        if engine == "postgres":
            environment |= stack.enter_context(postgres_server())
        elif engine == "spark":
            environment |= stack.enter_context(spark_settings())
        os.environ.update(environment)
        server_before = (
            postgres_cpu_seconds(environment["DORA_POSTGRES_PORT"]) if engine == "postgres" else 0
        )
        try:
            result = run_refresh(
                f"{size}-{engine}", events, warehouse, as_of, run_dir, sys.executable
            )
        finally:
            for name in environment:
                os.environ.pop(name, None)
        server_cpu = (
            postgres_cpu_seconds(environment["DORA_POSTGRES_PORT"]) - server_before
            if engine == "postgres"
            else 0.0
        )
    steps = result.steps
    return {
        "size": size,
        "engine": engine,
        "sample": counts,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_s": result.wall_s,
        "cpu_s": round(result.cpu_s, 1),
        "server_cpu_s": round(server_cpu, 1),
        "tree_rss_mib": result.tree_rss_mib,
        "dbt_step_1_s": steps.get("dbt_before_containment"),
        "containment_s": steps.get("containment"),
        "dbt_step_2_s": steps.get("dbt_after_containment"),
        "load_before": result.load_before,
        "load_after": result.load_after,
    }


def table(results: list[dict]) -> str:
    lines = [
        "| sample | engine | wall s | CPU s (refresh) | CPU s (PostgreSQL server) "
        "| dbt step 1 s | containment s | dbt step 2 s | tree RSS MiB | load before / after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in results:
        lines.append(
            f"| {entry['size']} | {entry['engine']} | {entry['wall_s']:.1f} | {entry['cpu_s']:.1f} "
            f"| {entry['server_cpu_s']:.1f} | {entry['dbt_step_1_s']:.1f} "
            f"| {entry['containment_s']:.1f} | {entry['dbt_step_2_s']:.1f} "
            f"| {entry['tree_rss_mib']:.0f} | {entry['load_before']} / {entry['load_after']} |"
        )
    return "\n".join(lines)


def write_page(results: list[dict], facts: dict) -> None:
    text = PAGE.read_text()
    body = (
        f"{START_MARKER}\n\nMeasured {results[-1]['measured_at']} on {facts['nproc']} CPUs "
        f"({facts['cpu']}), Python {facts['python']}; command `python -m benchmarks.engines`.\n\n"
        f"{table(results)}\n\n{END_MARKER}"
    )
    if START_MARKER in text:
        before, rest = text.split(START_MARKER, 1)
        text = before + body + rest.split(END_MARKER, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    PAGE.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engines", description=__doc__)
    parser.add_argument("--sizes", default="default", help="comma-separated: default, small, large")
    parser.add_argument("--engines", default="duckdb,postgres,spark", help="comma-separated")
    parser.add_argument("--workdir", default="/tmp/dora-bench-engines", help="scratch folder")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    keyed = {(entry["size"], entry["engine"]): entry for entry in previous}
    for size in args.sizes.split(","):
        for engine in args.engines.split(","):
            print(f"{size}: {engine} refresh...", file=sys.stderr, flush=True)
            entry = bench(size, engine, workdir)
            print(json.dumps(entry), file=sys.stderr, flush=True)
            keyed[(size, engine)] = entry
            ordered = [keyed[key] for key in sorted(keyed)]
            RESULTS.write_text(json.dumps(ordered, indent=1) + "\n")
            write_page(ordered, machine())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
