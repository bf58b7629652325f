"""The sample generator: determinism, timestamps, the committed copy, the CLI, large sizes."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from dagster_project.config import parse_config
from dagster_project.sample.__main__ import main
from dagster_project.sample.generator import generate
from dagster_project.sample.profiles import profile_for
from dagster_project.settings import SAMPLE_EVENTS_DIR
from dagster_project.sources.files import read_events
from dagster_project.timeparse import parse_timestamp
from tests.test_sample_shape import SampleEvents, ancestors

FILES = ("commits.jsonl", "pull_requests.json", "deployments.jsonl", "incidents.json")


def read_bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


def timestamp_fields(record: dict, path: str = ""):
    """Yield (path, value) for every `*_at` field, nested lists included."""
    for key, value in record.items():
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    yield from timestamp_fields(item, f"{path}{key}[{index}].")
        elif key.endswith("_at") or key == "at":
            yield f"{path}{key}", value


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=11)
    generate(tmp_path / "b", seed=11)
    assert read_bytes(tmp_path / "a") == read_bytes(tmp_path / "b")


def test_other_seed_other_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=11)
    generate(tmp_path / "b", seed=12)
    first, second = read_bytes(tmp_path / "a"), read_bytes(tmp_path / "b")
    for name in FILES:
        assert first[name] != second[name], name


def test_committed_sample_is_current(tmp_path: Path) -> None:
    counts = generate(tmp_path)
    assert read_bytes(tmp_path) == read_bytes(SAMPLE_EVENTS_DIR), (
        "data/sample is stale: run python -m dagster_project.sample --out data/sample"
    )
    assert counts["commits"] == len((tmp_path / "commits.jsonl").read_text().splitlines())


def test_committed_sample_under_5_mb() -> None:
    total = sum((SAMPLE_EVENTS_DIR / name).stat().st_size for name in FILES)
    assert total < 5 * 1024 * 1024


def test_every_timestamp_has_offset() -> None:
    events = SampleEvents.read(SAMPLE_EVENTS_DIR)
    checked = 0
    for entity in ("commits", "pull_requests", "deployments", "incidents"):
        for record in getattr(events, entity):
            for field, value in timestamp_fields(record):
                if value is None:
                    continue
                assert parse_timestamp(value, field) is not None
                assert value.endswith("Z") or value[-6] in "+-", (entity, field, value)
                checked += 1
    assert checked > 20_000


def test_file_source_accepts_sample() -> None:
    extract = read_events(SAMPLE_EVENTS_DIR, parse_config({}, Path(".")))
    counts = extract.counts()
    events = SampleEvents.read(SAMPLE_EVENTS_DIR)
    assert all(not rows for rows in extract.rejected.values()), extract.rejected
    assert counts["commits_loaded"] == len(events.commits)
    assert counts["pull_requests_loaded"] == len(events.pull_requests)
    assert counts["incidents_loaded"] == len(events.incidents)
    reverted = [row for row in extract.rows["commits"] if row["reverted_sha"]]
    assert len(reverted) >= 5


def test_cli_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exit_code = main(["--out", str(tmp_path), "--seed", "3", "--end-date", "2026-06-30"])
    assert exit_code == 0
    printed = capsys.readouterr().out
    assert "commits:" in printed
    assert "incidents:" in printed
    deployments = SampleEvents.read(tmp_path).deployments
    last = max(parse_timestamp(d["started_at"], "started_at") for d in deployments)
    assert last.date() <= date(2026, 6, 30)
    assert last.date() >= date(2026, 6, 29)


def test_cli_rejects_unknown_size(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--out", "unused", "--size", "huge"])
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_unknown_size_and_scale_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown sample size 'huge'"):
        generate(tmp_path, size="huge")
    with pytest.raises(ValueError, match="scale must be in"):
        generate(tmp_path, size="large", scale=0)


def test_large_profile_shape() -> None:
    large = profile_for("large", 7)
    xlarge = profile_for("xlarge", 7)
    assert 50 <= len(large.services) <= 53
    assert 250 <= len(xlarge.services) <= 253
    assert large.days == 730
    strategies = Counter(repo.merge_strategy for repo in large.repos)
    assert set(strategies) == {"merge", "squash", "rebase"}
    assert any(len(repo.services) > 1 for repo in large.repos)
    assert len({service.name for service in xlarge.services}) == len(xlarge.services)


@pytest.fixture(scope="module")
def large_scaled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """Seven days of the large organisation, ending on a Monday."""
    folder = tmp_path_factory.mktemp("large")
    counts = generate(folder, size="large", seed=5, end_date=date(2025, 3, 31), scale=0.01)
    return folder, counts


def test_large_scaled_down(large_scaled: tuple[Path, dict[str, int]]) -> None:
    folder, counts = large_scaled
    events = SampleEvents.read(folder)
    assert counts == {
        "commits": len(events.commits),
        "pull_requests": len(events.pull_requests),
        "deployments": len(events.deployments),
        "incidents": len(events.incidents),
    }
    # Seven days of the two-year organisation: about 1/100 of its volume, less
    # the first days' ramp (pull requests opened on day one merge later).
    assert 5_000 <= counts["commits"] <= 20_000
    assert 500 <= counts["deployments"] <= 3_000
    assert len({d["service"] for d in events.deployments}) >= 45
    parents = events.parents()
    for commit in events.commits:
        for parent in commit["parent_shas"]:
            assert (commit["repo"], parent) in parents
    for deployment in events.deployments:
        assert (deployment["repo"], deployment["sha"]) in parents
    first = min(parse_timestamp(d["started_at"], "started_at") for d in events.deployments)
    assert first.date() >= date(2025, 3, 31) - timedelta(days=7)


def test_large_scaled_deterministic(
    large_scaled: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    folder, _ = large_scaled
    generate(tmp_path, size="large", seed=5, end_date=date(2025, 3, 31), scale=0.01)
    assert read_bytes(tmp_path) == read_bytes(folder)


def test_large_monorepo_deploys_forward(large_scaled: tuple[Path, dict[str, int]]) -> None:
    folder, _ = large_scaled
    events = SampleEvents.read(folder)
    services_by_repo: dict[str, set[str]] = {}
    for deployment in events.deployments:
        services_by_repo.setdefault(deployment["repo"], set()).add(deployment["service"])
    monorepos = [repo for repo, services in services_by_repo.items() if len(services) > 1]
    assert monorepos
    parents = events.parents()
    for repo in monorepos:
        shas = [d["sha"] for d in events.deployments if d["repo"] == repo]
        assert shas[0] in ancestors(parents, repo, shas[-1]), repo
