"""The git source on real temporary repositories built with the git command."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dagster_project import warehouse
from dagster_project.sources.git import (
    GitSourceConfig,
    GitSourceError,
    TagRule,
    load_git_extract,
    load_git_repository,
    read_git_repository,
)

AUTHOR_NAME = "Zelda Quuxington"
AUTHOR_EMAIL = "zelda.q@example.invalid"
BOT_NAME = "dependabot[bot]"
BOT_EMAIL = "49699333+dependabot[bot]@users.noreply.github.com"

RULES = [
    TagRule("v*", "shop"),
    TagRule("api-*", "api"),
    TagRule("web-*", "web", "staging"),
    TagRule("*-1.0", "never-used"),
]


class GitRepo:
    """A repository in a temporary folder, written with the git command."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.step = 0
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", AUTHOR_NAME)
        self.git("config", "user.email", AUTHOR_EMAIL)

    def git(self, *args: str, env: dict[str, str] | None = None, input_text: str = "") -> str:
        full_env = {
            **os.environ,
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            **(env or {}),
        }
        result = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env=full_env,
            input=input_text,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def dates(self, authored: str | None = None, committed: str | None = None) -> dict[str, str]:
        """Return date variables; without values each call moves one hour on."""
        self.step += 1
        default = f"2024-04-01T{self.step % 24:02d}:00:00+00:00"
        return {
            "GIT_AUTHOR_DATE": authored or default,
            "GIT_COMMITTER_DATE": committed or authored or default,
        }

    def commit(
        self,
        subject: str,
        body: str = "",
        file: str = "notes.txt",
        authored: str | None = None,
        committed: str | None = None,
        author: tuple[str, str] | None = None,
    ) -> str:
        target = self.path / file
        previous = target.read_text() if target.exists() else ""
        target.write_text(f"{previous}{subject}\n")
        self.git("add", file)
        env = self.dates(authored, committed)
        if author:
            env.update({"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1]})
        message = ["-m", subject] + (["-m", body] if body else [])
        self.git("commit", "-q", *message, env=env)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def merge(self, branch: str, *paragraphs: str) -> str:
        message = [part for text in paragraphs for part in ("-m", text)]
        self.git("merge", "-q", "--no-ff", branch, *message, env=self.dates())
        return self.head()


@dataclass
class Scenario:
    """The shas of a repository that contains one example of each case."""

    repo: GitRepo
    shas: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    repo = GitRepo(tmp_path_factory.mktemp("git") / "shop")
    shas: dict[str, str] = {}
    shas["init"] = repo.commit(
        "Initial commit",
        authored="2024-03-01T09:00:00+02:00",
        committed="2024-03-01T10:30:00-05:00",
    )
    shas["readme"] = repo.commit("Add readme", file="README.md")
    repo.git(
        "tag", "-a", "v1.0.0", "-m", "First release", env=repo.dates("2024-03-02T12:00:00+01:00")
    )
    repo.git("tag", "-a", "web-1.0", "-m", "Web preview", env=repo.dates())

    repo.git("checkout", "-q", "-b", "feature/login")
    shas["login_work"] = repo.commit("Work on login", file="login.txt")
    repo.git("checkout", "-q", "main")
    shas["config"] = repo.commit("Tweak config", file="config.txt")
    shas["merge_pr"] = repo.merge(
        "feature/login", "Merge pull request #12 from octo/feature/login", "Add the login page"
    )

    shas["squash"] = repo.commit(
        "Add search box (#13)", file="search.txt", committed="2024-04-02T08:00:00+03:00"
    )
    shas["bot"] = repo.commit(
        "Bump lib from 1 to 2 (#14)", file="deps.txt", author=(BOT_NAME, BOT_EMAIL)
    )

    repo.git("checkout", "-q", "-b", "fix-typo")
    repo.commit("Fix typo", file="README.md")
    repo.git("checkout", "-q", "main")
    shas["gitlab_merge"] = repo.merge(
        "fix-typo",
        "Merge branch 'fix-typo' into 'main'",
        "Fix typo in README",
        "See merge request group/project!45",
    )

    repo.git("revert", "--no-edit", shas["squash"], env=repo.dates())
    shas["revert_full"] = repo.head()
    shas["bad"] = repo.commit("Bad change", file="bad.txt")
    shas["revert_short"] = repo.commit(
        "Undo bad change",
        body=f"This reverts commit {shas['bad'][:8]}.\n\nSigned-off-by: {AUTHOR_NAME} <{AUTHOR_EMAIL}>",
        file="bad.txt",
    )
    shas["fix"] = repo.commit("Fix crash", file="crash.txt")
    repo.git("tag", "v1.1.0")
    repo.git("tag", "api-2.0.0")
    repo.git("tag", "nightly-1")

    repo.git("checkout", "-q", "-b", "release/1.x", shas["readme"])
    repo.git("cherry-pick", "-x", shas["fix"], env=repo.dates())
    shas["pick_fix"] = repo.head()
    repo.git("cherry-pick", shas["squash"], env=repo.dates())
    shas["pick_squash"] = repo.head()
    repo.git("tag", "v1.0.1")
    repo.git("checkout", "-q", "main")
    return Scenario(repo, shas)


@pytest.fixture(scope="module")
def extract(scenario: Scenario):
    return read_git_repository(GitSourceConfig(scenario.repo.path, tag_rules=RULES))


def commits_by_sha(extract) -> dict[str, dict]:
    return {row["sha"]: row for row in extract.commits}


def pull_requests_by_number(extract) -> dict[int, dict]:
    return {row["number"]: row for row in extract.pull_requests}


def deployments_by_tag(extract) -> dict[str, dict]:
    return {row["deployment_id"]: row for row in extract.deployment_statuses}


def test_defaults_from_folder(scenario: Scenario) -> None:
    config = GitSourceConfig(scenario.repo.path)
    assert config.repo == "shop"
    assert config.source == "git:shop"
    assert config.tag_rules == [TagRule("v*", "shop", "production")]


def test_linear_history_times_in_utc(scenario: Scenario, extract) -> None:
    rows = commits_by_sha(extract)
    first = rows[scenario.shas["init"]]
    assert first["authored_at"] == datetime(2024, 3, 1, 7, 0, tzinfo=UTC)
    assert first["committed_at"] == datetime(2024, 3, 1, 15, 30, tzinfo=UTC)
    assert first["parent_count"] == 0
    assert json.loads(first["parent_shas"]) == []
    assert first["_payload"]["authored_at"] == "2024-03-01T09:00:00+02:00"
    second = rows[scenario.shas["readme"]]
    assert json.loads(second["parent_shas"]) == [scenario.shas["init"]]
    assert second["subject"] == "Add readme"
    assert second["_record_key"] == scenario.shas["readme"]
    assert second["_source"] == "git:shop"
    assert second["repo"] == "shop"


def test_branch_and_tag_history(scenario: Scenario, extract) -> None:
    rows = commits_by_sha(extract)
    on_main = scenario.repo.git("rev-list", "main").split()
    release_only = scenario.repo.git("rev-list", "release/1.x", "^main").split()
    assert set(rows) == set(on_main) | set(release_only)
    assert len(extract.commits) == len(rows)
    assert extract.counts["commits_on_branch"] == len(on_main)
    assert extract.counts["commits_from_tags_only"] == len(release_only) == 2
    assert rows[scenario.shas["pick_fix"]]["_payload"]["reachable_from_branch"] is False
    assert rows[scenario.shas["fix"]]["_payload"]["reachable_from_branch"] is True


def test_merge_pull_request(scenario: Scenario, extract) -> None:
    merge = commits_by_sha(extract)[scenario.shas["merge_pr"]]
    row = pull_requests_by_number(extract)[12]
    assert row["merge_commit_sha"] == scenario.shas["merge_pr"]
    assert row["head_ref"] == "feature/login"
    assert row["title"] == "Add the login page"
    assert row["opened_at"] is None
    assert row["merged_at"] == merge["committed_at"]
    assert row["_record_key"] == "12"
    assert merge["parent_count"] == 2
    assert merge["patch_id"] is None


def test_squash_pull_request(scenario: Scenario, extract) -> None:
    row = pull_requests_by_number(extract)[13]
    assert row["title"] == "Add search box"
    assert row["merge_commit_sha"] == scenario.shas["squash"]
    assert row["merged_at"] == datetime(2024, 4, 2, 5, 0, tzinfo=UTC)
    assert row["head_ref"] is None
    assert row["is_bot"] is False


def test_gitlab_merge_request(scenario: Scenario, extract) -> None:
    row = pull_requests_by_number(extract)[45]
    assert row["merge_commit_sha"] == scenario.shas["gitlab_merge"]
    assert row["head_ref"] == "fix-typo"
    assert row["title"] == "Fix typo in README"


def test_only_landing_chain_requests(scenario: Scenario, extract) -> None:
    # The squash commit cherry-picked onto the release branch repeats "(#13)";
    # the login branch's own commit is not a landing commit.
    assert sorted(pull_requests_by_number(extract)) == [12, 13, 14, 45]
    assert extract.counts["pull_request_markers_off_landing_chain"] == 1
    assert [item for item in extract.quarantine if item["entity"] == "pull_requests"] == []


def test_bot_author(scenario: Scenario, extract) -> None:
    rows = commits_by_sha(extract)
    assert rows[scenario.shas["bot"]]["is_bot"] is True
    assert rows[scenario.shas["squash"]]["is_bot"] is False
    assert pull_requests_by_number(extract)[14]["is_bot"] is True
    assert extract.counts["bot_commits"] == 1


def test_reverts_full_and_short(scenario: Scenario, extract) -> None:
    rows = commits_by_sha(extract)
    assert rows[scenario.shas["revert_full"]]["reverted_sha"] == scenario.shas["squash"]
    assert rows[scenario.shas["revert_short"]]["reverted_sha"] == scenario.shas["bad"][:8]
    assert rows[scenario.shas["fix"]]["reverted_sha"] is None
    assert extract.counts["reverts"] == 2


def test_cherry_pick_same_patch_id(scenario: Scenario, extract) -> None:
    rows = commits_by_sha(extract)
    fix, pick = rows[scenario.shas["fix"]], rows[scenario.shas["pick_fix"]]
    assert fix["patch_id"] is not None
    assert fix["patch_id"] == pick["patch_id"]
    assert (
        rows[scenario.shas["pick_squash"]]["patch_id"] == rows[scenario.shas["squash"]]["patch_id"]
    )
    assert rows[scenario.shas["bad"]]["patch_id"] != fix["patch_id"]


def test_patch_ids_off(scenario: Scenario) -> None:
    config = GitSourceConfig(scenario.repo.path, tag_rules=RULES, compute_patch_ids=False)
    extract = read_git_repository(config)
    assert extract.commits
    assert all(row["patch_id"] is None for row in extract.commits)
    assert extract.counts["patch_ids"] == 0


def test_lightweight_and_annotated_tags(scenario: Scenario, extract) -> None:
    rows = deployments_by_tag(extract)
    commits = commits_by_sha(extract)
    annotated = rows["tag:v1.0.0"]
    assert annotated["sha"] == scenario.shas["readme"]
    assert annotated["state_at"] == datetime(2024, 3, 2, 11, 0, tzinfo=UTC)
    assert annotated["state_at"] != commits[scenario.shas["readme"]]["committed_at"]
    lightweight = rows["tag:v1.1.0"]
    assert lightweight["sha"] == scenario.shas["fix"]
    assert lightweight["state_at"] == commits[scenario.shas["fix"]]["committed_at"]
    for row in (annotated, lightweight):
        assert row["state"] == "success"
        assert row["service"] == "shop"
        assert row["environment"] == "production"
        assert row["_record_key"] == f"{row['deployment_id']}@{row['sha']}"


def test_tag_rules_map_services(scenario: Scenario, extract) -> None:
    rows = deployments_by_tag(extract)
    assert sorted(rows) == [
        "tag:api-2.0.0",
        "tag:v1.0.0",
        "tag:v1.0.1",
        "tag:v1.1.0",
        "tag:web-1.0",
    ]
    assert (rows["tag:api-2.0.0"]["service"], rows["tag:api-2.0.0"]["environment"]) == (
        "api",
        "production",
    )
    # web-1.0 also matches "*-1.0"; the first matching rule wins.
    assert (rows["tag:web-1.0"]["service"], rows["tag:web-1.0"]["environment"]) == (
        "web",
        "staging",
    )
    assert rows["tag:v1.0.1"]["sha"] == scenario.shas["pick_squash"]
    assert extract.counts["tags"] == 6
    assert extract.counts["tags_ignored"] == 1
    assert extract.counts["deployments"] == 5
    assert len({row["record_index"] for row in rows.values()}) == 5


def test_no_author_data_stored(scenario: Scenario, tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    with warehouse.open_warehouse(database) as con:
        counts = load_git_repository(con, GitSourceConfig(scenario.repo.path, tag_rules=RULES))
        assert counts["commits"] > 0
        tables = [*warehouse.RAW_TABLES, "quarantine"]
        for table in tables:
            text = " ".join(str(row) for row in con.execute(f"select * from {table}").fetchall())
            for secret in (
                AUTHOR_NAME,
                AUTHOR_EMAIL,
                "Zelda",
                "example.invalid",
                BOT_NAME,
                BOT_EMAIL,
            ):
                assert secret.lower() not in text.lower(), f"{secret} found in {table}"
        subjects = con.execute("select count(*) from raw_git__commits where subject is not null")
        assert subjects.fetchone()[0] == counts["commits"]


def test_load_twice_no_duplicates(scenario: Scenario, tmp_path: Path) -> None:
    config = GitSourceConfig(scenario.repo.path, tag_rules=RULES)
    with warehouse.open_warehouse(tmp_path / "warehouse.duckdb") as con:
        first = load_git_repository(con, config)
        second = load_git_repository(con, config)
        stored = {
            table: con.execute(f"select count(*) from {table}").fetchone()[0]
            for table in (
                "raw_git__commits",
                "raw_git__pull_requests",
                "raw_git__deployment_statuses",
            )
        }
    assert first == second
    assert stored == {
        "raw_git__commits": first["commits"],
        "raw_git__pull_requests": 4,
        "raw_git__deployment_statuses": 5,
    }


def test_other_branch(scenario: Scenario) -> None:
    config = GitSourceConfig(scenario.repo.path, branch="release/1.x", tag_rules=[])
    extract = read_git_repository(config)
    assert extract.head_sha == scenario.shas["pick_squash"]
    assert {row["sha"] for row in extract.commits} == set(
        scenario.repo.git("rev-list", "release/1.x").split()
    )
    assert sorted(pull_requests_by_number(extract)) == [13]
    assert extract.deployment_statuses == []
    assert extract.counts["tags_ignored"] == 6


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitSourceError, match=f"{tmp_path} is not a git repository"):
        read_git_repository(GitSourceConfig(tmp_path))


def test_folder_inside_a_repository(scenario: Scenario) -> None:
    inner = scenario.repo.path / "plain-folder"
    inner.mkdir(exist_ok=True)
    with pytest.raises(GitSourceError, match="is not a git repository"):
        read_git_repository(GitSourceConfig(inner))


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(GitSourceError, match="does not exist"):
        read_git_repository(GitSourceConfig(tmp_path / "nowhere"))


def test_missing_branch(scenario: Scenario) -> None:
    config = GitSourceConfig(scenario.repo.path, branch="no-such-branch")
    with pytest.raises(GitSourceError, match="'no-such-branch' was not found") as error:
        read_git_repository(config)
    assert "branch -a" in str(error.value)


def test_option_like_branch(scenario: Scenario) -> None:
    with pytest.raises(GitSourceError, match="was not found"):
        read_git_repository(GitSourceConfig(scenario.repo.path, branch="--all"))


def test_empty_repository(tmp_path: Path) -> None:
    GitRepo(tmp_path / "empty")
    with pytest.raises(GitSourceError, match="no commit at HEAD"):
        read_git_repository(GitSourceConfig(tmp_path / "empty"))


def test_missing_object_fails(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "broken")
    first = repo.commit("One")
    repo.commit("Two")
    (repo.path / ".git" / "objects" / first[:2] / first[2:]).unlink()
    with pytest.raises(GitSourceError, match=r"`git log` failed in .*broken"):
        read_git_repository(GitSourceConfig(repo.path, compute_patch_ids=False))


def test_bad_rows_quarantined(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "odd")
    repo.commit("Base")
    repo.commit(f"Huge number (#{2**31})")
    repo.commit("First landing (#5)")
    repo.commit("Second landing (#5)")
    tree = repo.git("rev-parse", "HEAD^{tree}")
    parent = repo.head()
    bad_date = f"tree {tree}\nparent {parent}\nauthor A <a@x> 1700000000 +9999\n"
    bad_date += "committer A <a@x> 1700000000 +9999\n\nOdd time zone\n"
    bad = repo.git(
        "hash-object", "-t", "commit", "-w", "--literally", "--stdin", input_text=bad_date
    )
    repo.git("update-ref", "refs/heads/main", bad)
    repo.git("tag", "v-tree", tree)

    extract = read_git_repository(GitSourceConfig(repo.path))
    reasons = {
        (item["entity"], item["location"].rsplit("@", 1)[-1]): item for item in extract.quarantine
    }
    assert ("commits", bad) in reasons
    assert "+99:99" in reasons[("commits", bad)]["reason"]
    assert any("larger than" in item["reason"] for item in extract.quarantine)
    duplicate = [item for item in extract.quarantine if "also named by commit" in item["reason"]]
    assert len(duplicate) == 1
    assert "Second landing" in duplicate[0]["raw_content"]
    assert pull_requests_by_number(extract)[5]["title"] == "First landing"
    tree_tag = [item for item in extract.quarantine if item["entity"] == "deployment_statuses"]
    assert len(tree_tag) == 1
    assert "v-tree does not point to a commit" in tree_tag[0]["reason"]
    assert extract.counts["quarantined"] == 4
    assert len(extract.commits) == 4


def test_quarantine_loaded_and_replaced(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "odd")
    repo.commit("Base")
    repo.git("tag", "v-tree", repo.git("rev-parse", "HEAD^{tree}"))
    with warehouse.open_warehouse(tmp_path / "warehouse.duckdb") as con:
        load_git_repository(con, GitSourceConfig(repo.path))
        load_git_repository(con, GitSourceConfig(repo.path))
        rows = con.execute("select _source, entity, reason from quarantine").fetchall()
        assert len(rows) == 1
        assert rows[0][:2] == ("git:odd", "deployment_statuses")
        repo.git("tag", "-d", "v-tree")
        load_git_repository(con, GitSourceConfig(repo.path))
        remaining = con.execute("select count(*) from quarantine").fetchone()[0]
    assert remaining == 0


def test_duckdb_types(scenario: Scenario, tmp_path: Path) -> None:
    with warehouse.open_warehouse(tmp_path / "warehouse.duckdb") as con:
        load_git_repository(con, GitSourceConfig(scenario.repo.path, tag_rules=RULES))
        row = con.execute(
            "select committed_at, parent_count, is_bot from raw_git__commits where sha = ?",
            [scenario.shas["init"]],
        ).fetchone()
        payload = con.execute(
            "select _payload from raw_git__pull_requests where number = 12"
        ).fetchone()[0]
    assert row[0] == datetime(2024, 3, 1, 15, 30, tzinfo=UTC)
    assert row[1:] == (0, False)
    assert json.loads(payload)["kind"] == "github_merge"


def test_moved_tag_keeps_both(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "moving")
    first = repo.commit("One")
    repo.git("tag", "v1")
    second = repo.commit("Two")
    config = GitSourceConfig(repo.path)
    query = "select sha from raw_git__deployment_statuses where deployment_id = 'tag:v1'"
    with warehouse.open_warehouse(tmp_path / "warehouse.duckdb") as con:
        load_git_repository(con, config)
        repo.git("tag", "-f", "v1", second)
        extract = read_git_repository(config)
        counts = load_git_extract(con, extract)
        again = load_git_repository(con, config)
        shas = sorted(row[0] for row in con.execute(query).fetchall())
        repo.git("tag", "-d", "v1")
        load_git_repository(con, config)
        remaining = con.execute(query).fetchall()
    assert shas == sorted([first, second])
    assert counts["moved_tag_deployments"] == 1
    assert again["moved_tag_deployments"] == 1
    assert any("tag:v1 moved from commit" in warning for warning in extract.warnings)
    assert remaining == []


def test_invalid_utf8_message_kept(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "latin")
    tree = repo.git("write-tree")
    raw = b"tree " + tree.encode() + b"\nauthor A <a@x> 1700000000 +0100\n"
    raw += b"committer A <a@x> 1700000000 +0100\n\nCaf\xe9 menu\n"
    result = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
        cwd=repo.path,
        input=raw,
        capture_output=True,
        check=True,
    )
    sha = result.stdout.decode().strip()
    repo.git("update-ref", "refs/heads/main", sha)
    extract = read_git_repository(GitSourceConfig(repo.path))
    assert [row["subject"] for row in extract.commits] == ["Caf\ufffd menu"]
    assert extract.counts["messages_with_invalid_utf8"] == 1
    assert any("not valid UTF-8" in warning for warning in extract.warnings)


def test_shallow_clone_warning(scenario: Scenario, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    source = scenario.repo.path.as_uri()
    scenario.repo.git("clone", "-q", "--depth", "2", "--no-local", source, str(clone))
    extract = read_git_repository(GitSourceConfig(clone))
    assert len(extract.commits) == 2
    assert any("shallow clone" in warning for warning in extract.warnings)
