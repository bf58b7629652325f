"""Dagster plumbing shared by the GitHub and GitLab assets: run extractors, report metadata.

Each API source is a list of repositories or projects, and each of them is a
partition of the source's extraction asset. A partition's run calls the
extractors with one HTTP session, and the session keeps its ETags in the
``http_cache`` table of the partition's landing file.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from dagster_project.clients.http import ApiError, ApiSession, RequestStats, WarehouseEtagStore
from dagster_project.sources.api_loading import LoadResult

COUNTED_STATS = ("requests", "not_modified", "retries", "rate_limit_waits")


@dataclass(frozen=True)
class ApiSource:
    """How to reach one API system: its name, session and client factories and extractors."""

    system: str
    # Plural noun for a configured item in log lines: repositories or projects.
    item_kind: str
    open_session: Callable[..., ApiSession]
    make_client: Callable[[ApiSession, str], Any]
    extractors: Mapping[str, Callable[..., LoadResult]]
    ensure_tables: Callable[[Any], None]


@dataclass
class RunReport:
    """Totals of one asset run over every repository or project."""

    result: LoadResult
    stats: RequestStats
    cursors: dict[str, str | None]


def _add_stats(total: RequestStats, session: ApiSession) -> None:
    for name in COUNTED_STATS:
        setattr(total, name, getattr(total, name) + getattr(session.stats, name))


def _extract_one(source: ApiSource, con, client, item, entities, report: RunReport) -> None:
    name = item.name
    for entity in entities:
        try:
            result = source.extractors[entity](con, client, item)
        except ApiError as error:
            raise dg.Failure(
                f"{source.system} {name} {entity}: {error}; the cursor was not moved, "
                "so the next run fetches the same objects again"
            ) from None
        report.result.merge(result)
        report.cursors[f"{name}:{entity}"] = result.cursor


def run_extractors(
    context: dg.AssetExecutionContext,
    source: ApiSource,
    items: Sequence[Any],
    *,
    base_url: str,
    token: str | None,
    connect: Callable[[], Any],
    session_options: Mapping[str, Any],
    entities: Sequence[str],
) -> RunReport:
    """Run the extractors of ``entities`` for every item (repository or project).

    ``item.source`` is the source instance name and ``item.name`` the
    repository or project passed to the client.
    """
    report = RunReport(LoadResult(), RequestStats(), {})
    if not items:
        context.log.info(f"No {source.system} {source.item_kind} configured; nothing to extract.")
    with connect() as con:
        source.ensure_tables(con)
        for item in items:
            context.log.info(
                f"{source.system} {item.name}: extracting {', '.join(entities)} from {base_url}"
            )
            session = source.open_session(
                base_url,
                token=token,
                etag_store=WarehouseEtagStore(con, item.source),
                logger=context.log,
                **session_options,
            )
            with session:
                client = source.make_client(session, item.name)
                _extract_one(source, con, client, item, entities, report)
            _add_stats(report.stats, session)

    if report.result.skipped:
        context.log.info(
            f"Skipped {report.result.skipped} {source.system} objects that are not of this entity"
        )
    if report.result.rejected:
        context.log.warning(
            f"Quarantined {report.result.rejected} {source.system} objects; "
            "see the quarantine table for each reason"
        )
    for note in report.result.notes:
        context.log.warning(note)
    return report


def configured_item(source: ApiSource, items: Sequence[Any], key: str, where: str) -> list[Any]:
    """Return the one configured item whose source instance name is the partition ``key``.

    Raises dg.Failure when no item matches, which happens when a key outlives
    its configuration entry until the next key sync.
    """
    matching = [item for item in items if item.source == key]
    if not matching:
        raise dg.Failure(
            f"{source.system} partition {key!r} is not in {where} of the configuration; "
            "add it back, or let the partition sync sensor (or dora refresh) delete the key"
        )
    return matching[:1]


def landing_metadata(report: RunReport) -> dict[str, dg.MetadataValue]:
    """Return the metadata of one partition's extraction run: rows per table and request counts."""
    return {
        "rows_loaded": dg.MetadataValue.json(report.result.rows),
        "rows_quarantined": dg.MetadataValue.int(report.result.rejected),
        "objects_skipped": dg.MetadataValue.int(report.result.skipped),
        "api_requests": dg.MetadataValue.int(report.stats.requests),
        "not_modified_304": dg.MetadataValue.int(report.stats.not_modified),
        "retries": dg.MetadataValue.int(report.stats.retries),
        "rate_limit_waits": dg.MetadataValue.int(report.stats.rate_limit_waits),
        "cursors": dg.MetadataValue.json(report.cursors),
    }


def asset_spec(
    group: str, table: str, description: str, deps: Sequence[dg.AssetKey] = ()
) -> dg.AssetSpec:
    """Return the spec of a raw table asset, keyed ``["raw", table]``."""
    return dg.AssetSpec(
        ["raw", table],
        group_name=group,
        description=description,
        kinds={"duckdb", "python"},
        deps=list(deps),
    )
