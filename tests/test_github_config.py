"""Validation of the sources.github and sources.gitlab configuration sections."""

from __future__ import annotations

import pytest

from dagster_project.sources.github import GitHubConfigError, parse_github_config
from dagster_project.sources.gitlab import GitLabConfigError, parse_gitlab_config


@pytest.fixture(scope="session")
def dbt_manifest():
    """Replace the shared dbt parse: these tests use no dbt model."""
    return None


def test_github_defaults():
    config = parse_github_config({"repos": ["acme/shop"]})
    assert config.base_url == "https://api.github.com"
    assert config.token_env == "GITHUB_TOKEN"
    repo = config.repos[0]
    assert repo.source == "github:acme/shop"
    assert repo.services == ("shop",)
    assert repo.incident_label == "incident"
    assert repo.deploy_workflow is None


def test_github_monorepo_services_from_paths():
    config = parse_github_config(
        {
            "base_url": "https://ghe.example/api/v3/",
            "incident_label": "sev",
            "repos": [
                {
                    "repo": "acme/platform",
                    "services": ["api"],
                    "paths": {"services/api/": "api", "services/web/": "web"},
                    "branch": "main",
                    "deploy_workflow": "deploy.yml",
                }
            ],
        }
    )
    repo = config.repos[0]
    assert config.base_url == "https://ghe.example/api/v3"
    assert repo.services == ("api", "web")
    assert repo.deploy_branch == "main"
    assert repo.incident_label == "sev"


def test_github_invalid_entries_listed():
    with pytest.raises(GitHubConfigError) as raised:
        parse_github_config({"repos": ["shop", {"repo": "acme/x", "paths": ["a"]}, 42]})
    message = str(raised.value)
    assert "sources.github.repos[0].repo: invalid value 'shop'; write it as owner/name" in message
    assert "sources.github.repos[1].paths: invalid value ['a']" in message
    assert "sources.github.repos[2]: invalid value 42" in message


def test_github_release_and_tag_signals():
    config = parse_github_config(
        {
            "repos": [
                {"repo": "acme/shop", "deploy_releases": True},
                {"repo": "acme/cart", "deploy_tags": " v* ", "deploy_environment": "live"},
                "acme/docs",
            ]
        }
    )
    shop, cart, docs = config.repos
    assert (shop.deploy_releases, shop.deploy_tags) == (True, None)
    assert (cart.deploy_releases, cart.deploy_tags) == (False, "v*")
    assert cart.deploy_environment == "live"
    assert (docs.deploy_releases, docs.deploy_tags) == (False, None)


def test_github_release_signal_invalid():
    with pytest.raises(GitHubConfigError) as raised:
        parse_github_config(
            {
                "repos": [
                    {"repo": "acme/a", "deploy_releases": "yes"},
                    {"repo": "acme/b", "deploy_tags": ""},
                    {"repo": "acme/c", "deploy_releases": True, "deploy_tags": "v*"},
                ]
            }
        )
    message = str(raised.value)
    assert "sources.github.repos[0].deploy_releases: invalid value 'yes'; write true or false" in (
        message
    )
    assert "sources.github.repos[1].deploy_tags: invalid value ''" in message
    assert "sources.github.repos[2]: deploy_releases and deploy_tags are both set" in message


def test_github_section_must_be_mapping():
    with pytest.raises(GitHubConfigError, match="expected a mapping with 'repos'"):
        parse_github_config(["acme/shop"])


def test_gitlab_defaults_and_ids():
    config = parse_gitlab_config({"projects": ["group/sub/app", 1234]})
    assert config.base_url == "https://gitlab.com/api/v4"
    assert config.token_env == "GITLAB_TOKEN"
    assert [p.source for p in config.projects] == ["gitlab:group/sub/app", "gitlab:1234"]
    assert config.projects[0].services == ("app",)
    assert config.projects[0].deploy_pipeline_ref is None


def test_gitlab_invalid_entries_listed():
    with pytest.raises(GitLabConfigError) as raised:
        parse_gitlab_config({"projects": [{"services": ["x"]}, {"project": "a/b", "paths": "x"}]})
    message = str(raised.value)
    assert "sources.gitlab.projects[0]: invalid value" in message
    assert "sources.gitlab.projects[1].paths: invalid value 'x'" in message
