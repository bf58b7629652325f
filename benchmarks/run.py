"""Benchmark the refresh at each sample size and write docs/benchmarks.md.

Usage: `python -m benchmarks.run [--sizes small,large] [--workdir DIR]`, or
`make benchmark`. Per size it generates the sample (seed 7, ending
2026-11-30), cuts a copy at the start of the last day (see
`benchmarks.daycut`), and runs three refreshes of the real `dora` command:

- full: a new warehouse, every day, as of the end of the last day;
- initial: a new warehouse, the cut copy, as of the cut;
- incremental: `dora refresh --incremental` on the initial warehouse, every
  day, as of the end.

Results are merged into benchmarks/results.json (one entry per size, the
newest run wins) and the page is rewritten from all entries.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks import daycut, report
from benchmarks.measure import run_refresh, wait_for_load

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
PAGE = ROOT / "docs" / "benchmarks.md"
END_DATE = date(2026, 11, 30)
ORG_ZONE = ZoneInfo("Europe/Berlin")
SEED = 7


def machine() -> dict:
    """Return the facts of this machine that a reader needs to compare numbers."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "cpu": model,
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def generate(size: str, folder: Path, python: str) -> dict:
    marker = folder / ".complete"
    if marker.exists():
        return json.loads(marker.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    started = time.monotonic()
    output = subprocess.run(
        [python, "-m", "dagster_project.sample", "--out", str(folder), "--size", size,
         "--seed", str(SEED), "--end-date", END_DATE.isoformat()],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout  # fmt: skip
    counts = {k.strip(): int(v) for k, v in (line.split(":") for line in output.splitlines())}
    counts["generate_wall_s"] = round(time.monotonic() - started, 1)
    counts["disk_mib"] = round(sum(p.stat().st_size for p in folder.iterdir()) / 2**20, 1)
    marker.write_text(json.dumps(counts))
    return counts


def bench_size(size: str, workdir: Path, python: str, max_load: float) -> dict:
    base = workdir / size
    full_events, cut_events = base / "events_full", base / "events_cut"
    sample = generate(size, full_events, python)
    end = datetime.combine(END_DATE + timedelta(days=1), datetime.min.time(), ORG_ZONE)
    cut = end - timedelta(days=1)
    if not (cut_events / ".complete").exists():
        shutil.rmtree(cut_events, ignore_errors=True)
        kept = daycut.cut_events(full_events, cut_events, cut)
        (cut_events / ".complete").write_text(json.dumps(kept))
    runs = {}
    for label, events, warehouse, as_of, fresh in (
        ("full", full_events, base / "full.duckdb", end, True),
        ("initial", cut_events, base / "incremental.duckdb", cut, True),
        ("incremental", full_events, base / "incremental.duckdb", end, False),
    ):
        if fresh:
            warehouse.unlink(missing_ok=True)
        wait_for_load(max_load, timeout=120)
        print(f"{size}: {label} refresh...", file=sys.stderr, flush=True)
        result = run_refresh(
            f"{size}-{label}",
            events,
            warehouse,
            as_of.isoformat(),
            base / "runs",
            python,
            incremental=not fresh,
            # The incremental run refreshes the initial run's warehouse.
            parse_state_from=None if fresh else base / "runs" / f"{size}-initial",
        )
        print(
            f"{size}: {label}: wall {result.wall_s:.1f} s, cpu {result.cpu_s:.1f} s, "
            f"tree rss {result.tree_rss_mib:.0f} MiB, load {result.load_before}",
            file=sys.stderr,
            flush=True,
        )
        runs[label] = result.to_dict()
    return {
        "size": size,
        "sample": sample,
        "cut": cut.isoformat(),
        "end": end.isoformat(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--sizes", default="small,large", help="comma-separated sample sizes")
    parser.add_argument(
        "--workdir", default="/tmp/dora-benchmark", help="folder for samples and warehouses"
    )
    parser.add_argument(
        "--max-load",
        type=float,
        default=float("inf"),
        help="wait up to 2 minutes before each run for the load average to drop below this",
    )
    parser.add_argument("--page-only", action="store_true", help="rewrite the page from results")
    args = parser.parse_args(argv)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"sizes": {}}
    if not args.page_only:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        for size in args.sizes.split(","):
            entry = bench_size(size, workdir, sys.executable, args.max_load)
            entry["machine"] = machine()
            entry["command"] = f"python -m benchmarks.run --sizes {args.sizes}"
            results["sizes"][size] = entry
            RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    PAGE.write_text(report.render(results, PAGE))
    print(f"wrote {PAGE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
