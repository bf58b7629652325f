"""Render benchmark results as Markdown tables inside docs/benchmarks.md.

The generated part sits between two marker comments; the text around it is
written by hand and kept as it is.
"""

from __future__ import annotations

from pathlib import Path

START = "<!-- results:start (written by python -m benchmarks.run) -->"
END = "<!-- results:end -->"
STEP_NAMES = {
    "raw_files": "file load",
    "dbt_before_containment": "dbt step 1",
    "containment": "containment",
    "dbt_after_containment": "dbt step 2",
}


def _run_row(name: str, run: dict) -> str:
    steps = run["steps"]
    step_cells = " | ".join(f"{steps.get(key, float('nan')):.1f}" for key in STEP_NAMES)
    return (
        f"| {name} | {run['wall_s']:.1f} | {run['cpu_s']:.1f} | {step_cells} | "
        f"{run['max_rss_mib']:.0f} | {run['tree_rss_mib']:.0f} | {run['warehouse_mib']:.0f} | "
        f"{run['load_before']:.1f} / {run['load_after']:.1f} |"
    )


def _size_section(entry: dict) -> list[str]:
    sample, runs, info = entry["sample"], entry["runs"], entry["machine"]
    lines = [
        f"### Size `{entry['size']}`",
        "",
        f"Measured {entry['measured_at']} on {info['nproc']} CPUs ({info['cpu']}), "
        f"{info['memory_gib']} GiB memory, Python {info['python']}; "
        f"command `{entry['command']}`.",
        "",
        f"Sample: {sample.get('commits', 0):,} commits, {sample.get('pull_requests', 0):,} "
        f"pull requests, {sample.get('deployments', 0):,} deployments, "
        f"{sample.get('incidents', 0):,} incidents; {sample.get('disk_mib', 0)} MiB of files. "
        f"Cut at {entry['cut']}, end {entry['end']}.",
        "",
        "| refresh | wall s | CPU s | "
        + " | ".join(f"{label} s" for label in STEP_NAMES.values())
        + " | peak RSS MiB | tree RSS MiB | DuckDB MiB | load 1 min before / after |",
        "|---" * (7 + len(STEP_NAMES)) + "|",
    ]
    for name, run in runs.items():
        lines.append(_run_row(name, run))
    full = runs.get("full") or next(iter(runs.values()))
    incremental = runs.get("incremental")
    if full and incremental:
        share = 100 * incremental["wall_s"] / full["wall_s"]
        cpu_share = 100 * incremental["cpu_s"] / full["cpu_s"]
        lines += [
            "",
            f"Incremental against full: {share:.0f} % of the wall time, "
            f"{cpu_share:.0f} % of the CPU time.",
        ]
    if full:
        lines += [
            "",
            "Slowest dbt nodes of the first refresh in the table:"
            if "full" not in runs
            else "Slowest dbt nodes of the full refresh:",
            "",
            "| node | kind | seconds |",
            "|---|---|---|",
        ]
        lines += [
            f"| `{node['node']}` | {node['kind']} | {node['seconds']:.2f} |"
            for node in full["nodes"][:10]
        ]
        models = sum(n["seconds"] for n in full["nodes"] if n["kind"] != "test")
        tests = sum(n["seconds"] for n in full["nodes"] if n["kind"] == "test")
        lines += [
            "",
            f"All dbt nodes: {models:.1f} s in models and seeds, {tests:.1f} s in tests "
            f"({len(full['nodes'])} nodes).",
        ]
    return [*lines, ""]


def render_results(results: dict) -> str:
    """Return the generated Markdown for every measured size."""
    lines = [START, ""]
    for size in ("small", "large", "xlarge"):
        if size in results["sizes"]:
            lines += _size_section(results["sizes"][size])
    return "\n".join([*lines, END])


def render(results: dict, page: Path) -> str:
    """Return ``page`` with its generated part replaced by the current results."""
    text = page.read_text("utf-8") if page.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return head + render_results(results) + tail
