"""Generate a deterministic organisation's events in the neutral event form.

`generate` writes four files into a folder:

- `commits.jsonl`: one commit per line, every repository's graph;
- `pull_requests.json`: a JSON list, merged and still-open pull requests;
- `deployments.jsonl`: one deployment attempt per line, every environment;
- `incidents.json`: a JSON list, numbered in alert order.

Everything is written as it is simulated (repository after repository), so
memory stays flat however large the size; only incidents are kept until the end.
"""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dagster_project.sample.deployments import DeploymentLog
from dagster_project.sample.graph import RepoGraph
from dagster_project.sample.incidents import IncidentBook
from dagster_project.sample.output import JsonArrayWriter, JsonLinesWriter
from dagster_project.sample.profiles import profile_for
from dagster_project.sample.simulation import HOUR, Calendar, RepoSimulation

DEFAULT_END_DATE = date(2026, 11, 30)
ORG_ZONE = ZoneInfo("Europe/Berlin")
SIZES = ("small", "large", "xlarge")


def generate(
    out_dir: str | Path,
    size: str = "small",
    seed: int = 7,
    end_date: date = DEFAULT_END_DATE,
    scale: float = 1.0,
) -> dict[str, int]:
    """Write the sample of `size` into `out_dir` and return the record count per file.

    The same arguments always give byte-identical files. The days run up to
    and including `end_date` (organisation time, Europe/Berlin). `scale`
    shortens the calendar to that fraction of the size's days (at least 7),
    which keeps the organisation's shape for quick checks of the large sizes.
    """
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale!r}")
    profile = profile_for(size, seed)
    days = max(7, round(profile.days * scale))
    calendar = Calendar(
        zone=ORG_ZONE,
        first_day=end_date - timedelta(days=days - 1),
        days=days,
        weekend_factor=profile.weekend_factor,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    services = [service.name for service in profile.services]
    restore_minutes = {service.name: service.restore_minutes_median for service in profile.services}
    incidents = IncidentBook(calendar.end_at, restore_minutes, random.Random(f"{seed}/incidents"))
    deployment_ids = itertools.count(4_100_001)
    with (
        JsonLinesWriter(out / "commits.jsonl") as commits,
        JsonArrayWriter(out / "pull_requests.json") as pull_requests,
        JsonLinesWriter(out / "deployments.jsonl") as deployments,
    ):
        log = DeploymentLog(deployments, ORG_ZONE, deployment_ids)
        for repo in profile.repos:
            graph = RepoGraph(
                repo.name,
                repo.merge_strategy,
                seed,
                calendar.end_at - (days + 200) * 24 * HOUR,
                ORG_ZONE,
                commits,
                pull_requests,
            )
            rng = random.Random(f"{seed}/{repo.name}")
            RepoSimulation(repo, calendar, graph, log, incidents, rng).run()
        counts = {
            "commits": commits.count,
            "pull_requests": pull_requests.count,
            "deployments": deployments.count,
        }
    _open_at_end(incidents, services, calendar, random.Random(f"{seed}/open"))
    with JsonArrayWriter(out / "incidents.json") as incident_writer:
        incidents.write(incident_writer, ORG_ZONE)
        counts["incidents"] = incident_writer.count
    return counts


def _open_at_end(
    incidents: IncidentBook, services: list[str], calendar: Calendar, rng: random.Random
) -> None:
    """Add two incidents alerted in the last day and still unresolved at the end."""
    for service, hours_before_end in zip(rng.sample(services, 2), (3, 19), strict=True):
        opened = calendar.end_at - hours_before_end * HOUR - rng.randint(0, 3000)
        incidents.open_unresolved(service, opened)
