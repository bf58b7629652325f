"""The ``dora`` command: refresh the warehouse and read metrics, for people, scripts and CI."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dagster_project import settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CliError(Exception):
    """An error shown to the user as one message, without a traceback."""


# refresh ----------------------------------------------------------------------------------------


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CliError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin"
        ) from None
    return name


def _check_as_of(text: str) -> str:
    from dagster_project.timeparse import TimestampError, parse_timestamp

    try:
        parse_timestamp(text, "--as-of")
    except TimestampError as error:
        raise CliError(str(error)) from None
    return text


def _check_warehouse_free(path: Path) -> None:
    """Fail early with a clear message when another process has the DuckDB file open."""
    import duckdb

    if not path.exists():
        return
    try:
        duckdb.connect(str(path)).close()
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            raise CliError(
                f"the warehouse {path} is in use by another process (a refresh or an open "
                "connection); wait for it to finish, or close it, and run again"
            ) from None
        raise


# Dagster prefixes the description of a raised ``dg.Failure`` with its class path.
FAILURE_PREFIX = "dagster._core.definitions.events.Failure: "


def _failure_message(result) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.error
            message = error.message.strip() if error is not None else "unknown error"
            message = message.removeprefix(FAILURE_PREFIX)
            cause = error.cause if error is not None else None
            while cause is not None:
                message += f"\ncaused by: {cause.message.strip()}"
                cause = cause.cause
            return f"step {event.step_key} failed: {message}"
    return "the run failed; see the Dagster UI or the log above"


def _print_freshness_warnings(result) -> None:
    """Print one line per failed source freshness check of the run."""
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.asset_key.path == ["source_freshness"] and not evaluation.passed:
            level = evaluation.severity.value.lower()
            print(f"dora refresh: {level}: {evaluation.description}", file=sys.stderr)


def run_refresh(args: argparse.Namespace) -> int:
    settings.apply_offline_environment()
    if args.warehouse:
        os.environ[settings.WAREHOUSE_ENV] = str(Path(args.warehouse).expanduser().resolve())
    warehouse_file = settings.warehouse_path()
    os.environ.setdefault(settings.DAGSTER_HOME_ENV, str(settings.dagster_home()))
    settings.dagster_home()
    if sys.stderr.isatty():
        os.environ.setdefault("DORA_PROGRESS", "1")
    resource_config = {
        "config_path": str(Path(args.config).resolve()) if args.config else "",
        "events_dir": str(Path(args.events).resolve()) if args.events else "",
        "git_repo": str(Path(args.git_repo).resolve()) if args.git_repo else "",
        "as_of": _check_as_of(args.as_of) if args.as_of else "",
        "timezone": _check_timezone(args.timezone) if args.timezone else "",
        "contracts_path": str(Path(args.contracts).resolve()) if args.contracts else "",
    }
    if args.events and not Path(args.events).is_dir():
        raise CliError(f"events folder not found: {args.events}; pass an existing folder")
    if args.git_repo and not Path(args.git_repo).exists():
        raise CliError(f"git repository not found: {args.git_repo}; pass the path of a clone")
    from dagster_project.config import load_config
    from dagster_project.contract.loading import load_contracts

    # Both raise ConfigError or ContractError with every invalid field, before any work.
    config = load_config(resource_config["config_path"] or None)
    load_contracts(resource_config["contracts_path"] or None)
    uses_sample = (
        not (args.events or args.git_repo) and config.events_dir == settings.SAMPLE_EVENTS_DIR
    )
    if uses_sample and not args.as_of:
        resource_config["as_of"] = settings.SAMPLE_AS_OF
        print(
            f"dora refresh: measuring the bundled sample as of {settings.SAMPLE_AS_OF} "
            "(its last day); pass --as-of to choose another time",
            file=sys.stderr,
        )
    from dagster_project import locking, pipeline

    try:
        with locking.warehouse_lock(warehouse_file):
            _check_warehouse_free(warehouse_file)
            # dbt's own log lines go to a buffer, shown only when the run fails; failures
            # are reported once, below, instead of as Dagster's stack traces.
            dbt_log = io.StringIO()
            with contextlib.redirect_stdout(dbt_log):
                result = pipeline.run_refresh_job(
                    str(warehouse_file),
                    resource_config,
                    log_level="CRITICAL",
                    incremental=args.incremental,
                )
    except locking.WarehouseLockedError as error:
        raise CliError(str(error)) from None
    _print_freshness_warnings(result)
    if not result.success:
        tail = "\n".join(dbt_log.getvalue().splitlines()[-30:])
        if tail:
            print(tail, file=sys.stderr)
        raise CliError(_failure_message(result))
    print(_summary_text(result, warehouse_file))
    return EXIT_OK


def _summary_text(result, warehouse_file: Path) -> str:
    """Return the summary text that the run's ``refresh_summary`` step stored.

    Computes it from the warehouse when the run stored none.
    """
    from dagster_project import summary, warehouse
    from dagster_project.defs.summary import SUMMARY_METADATA_KEY

    for materialization in result.asset_materializations_for_node("refresh_summary"):
        stored = materialization.metadata.get(SUMMARY_METADATA_KEY)
        if stored is not None:
            return summary.text_of_summary_markdown(stored.value)
    with warehouse.open_warehouse(warehouse_file, read_only=True) as con:
        return summary.format_summary(con, str(warehouse_file))


# metrics ----------------------------------------------------------------------------------------


def _parse_bound(text: str, name: str, zone: ZoneInfo) -> datetime:
    """Parse a window bound: a date (local midnight in the warehouse zone) or a timestamp."""
    from dagster_project.timeparse import TimestampError, parse_timestamp

    try:
        return datetime.combine(date.fromisoformat(text), time.min, zone)
    except ValueError:
        pass
    try:
        parsed = parse_timestamp(text, name)
    except TimestampError as error:
        raise CliError(f"{error} (or give a date such as 2024-03-04)") from None
    if parsed is None:
        raise CliError(f"{name} is empty; give a date or a timestamp with an offset")
    return parsed


def run_metrics(args: argparse.Namespace) -> int:
    import duckdb

    from dagster_project import metrics, warehouse

    path = (
        Path(args.warehouse).expanduser().resolve() if args.warehouse else settings.warehouse_path()
    )
    if not path.exists():
        raise CliError(f"warehouse not found: {path}; run `dora refresh` first or pass --warehouse")
    try:
        con = warehouse.connect(path, read_only=True)
    except duckdb.IOException as error:
        raise CliError(
            f"cannot open the warehouse {path}: {error}; a refresh may be writing it, "
            "so retry when it is done or read the published copy"
        ) from None
    try:
        stored_zone = con.execute("select timezone from pipeline_settings").fetchone()[0]
        zone_name = _check_timezone(args.timezone) if args.timezone else stored_zone
        zone = ZoneInfo(zone_name)
        start = _parse_bound(args.start, "--start", zone)
        end = _parse_bound(args.end, "--end", zone)
        if end <= start:
            raise CliError(f"--end ({args.end}) must be after --start ({args.start})")
        if args.service:
            known = [
                row[0]
                for row in con.execute("select service from dim_services order by 1").fetchall()
            ]
            if args.service not in known:
                raise CliError(
                    f"unknown service {args.service!r}; known services: {', '.join(known) or 'none'}"
                )
        values = metrics.window_metrics(con, start, end, service=args.service, timezone=zone_name)
    except duckdb.CatalogException as error:
        raise CliError(
            f"the warehouse {path} has no marts yet ({error}); run `dora refresh`"
        ) from None
    finally:
        con.close()
    print(json.dumps(values, indent=2 if args.pretty else None, default=str, sort_keys=True))
    return EXIT_OK


# sample -----------------------------------------------------------------------------------------


def run_sample(args: argparse.Namespace) -> int:
    from dagster_project.sample import generator

    try:
        counts = generator.generate(
            Path(args.out), size=args.size, seed=args.seed, end_date=args.end_date, scale=args.scale
        )
    except ValueError as error:
        raise CliError(str(error)) from None
    print(json.dumps(counts, default=str))
    return EXIT_OK


# contract ---------------------------------------------------------------------------------------


def run_contract_import(args: argparse.Namespace) -> int:
    from dagster_project.contract.loading import dump_contract
    from dagster_project.contract.markdown_import import import_markdown

    document = Path(args.document)
    if not document.is_file():
        raise CliError(f"contract document not found: {document}")
    start = date.fromisoformat(args.start_date) if args.start_date else None
    result = import_markdown(
        document.read_text(encoding="utf-8"),
        source=str(document),
        contract_id=args.id or document.stem.replace("-", "_").lower(),
        start_date=start,
    )
    for warning in result.warnings:
        print(f"dora contract import: warning: {warning}", file=sys.stderr)
    text = dump_contract(result.contract)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    return EXIT_OK


MARKDOWN_SUFFIXES = (".md", ".markdown")


def run_contract_validate(args: argparse.Namespace) -> int:
    from dagster_project.contract.loading import load_contracts

    if args.path and Path(args.path).suffix.lower() in MARKDOWN_SUFFIXES:
        return _validate_markdown_contract(Path(args.path))
    contracts = load_contracts(args.path)
    for contract in contracts:
        print(
            f"{contract.id}: valid, {len(contract.outcomes)} outcomes, starts {contract.start_date}"
        )
    return EXIT_OK


def _validate_markdown_contract(document: Path) -> int:
    """Check a Markdown contract document by importing it, without writing anything."""
    from dagster_project.contract.markdown_import import import_markdown_file

    if not document.is_file():
        raise CliError(f"contract document not found: {document}")
    result, _ = import_markdown_file(document)
    for warning in result.warnings:
        print(f"dora contract validate: warning: {warning}", file=sys.stderr)
    contract = result.contract
    print(
        f"{contract.id}: valid Markdown contract, {len(contract.outcomes)} outcomes, "
        f"starts {contract.start_date}; run 'dora contract import {document} "
        f"--output contracts/{contract.id}.yml' to track it"
    )
    return EXIT_OK


# ui ---------------------------------------------------------------------------------------------


def run_ui(args: argparse.Namespace) -> int:
    from dagster_project.project import ensure_manifest

    settings.apply_offline_environment()
    os.environ.setdefault(settings.DAGSTER_HOME_ENV, str(settings.dagster_home()))
    ensure_manifest()
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-w", str(settings.PROJECT_ROOT / "workspace.yaml")]
    command += ["--host", args.host, "--port", str(args.port)]
    os.execv(command[0], command)
    return EXIT_OK


# parser -----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dora", description="DORA metrics pipeline.")
    commands = parser.add_subparsers(dest="command", required=True)

    refresh = commands.add_parser("refresh", help="load every source and build all models")
    refresh.add_argument("--config", help="pipeline configuration file (default: $DORA_CONFIG)")
    refresh.add_argument("--events", help="folder of neutral-form event files")
    refresh.add_argument(
        "--git-repo", help="path of a local git repository; tags v* are deployments"
    )
    refresh.add_argument(
        "--warehouse", help="DuckDB file (default: $DORA_WAREHOUSE or data/dora.duckdb)"
    )
    refresh.add_argument("--timezone", help="IANA time zone of the daily buckets (default: UTC)")
    refresh.add_argument("--as-of", help="measurement time, ISO 8601 with an offset (default: now)")
    refresh.add_argument(
        "--contracts",
        help="outcome contract file or folder (default: $DORA_CONTRACTS or contracts/)",
    )
    refresh.add_argument(
        "--incremental",
        action="store_true",
        help="keep incremental dbt models and add what is new (default: rebuild everything)",
    )
    refresh.set_defaults(handler=run_refresh)

    metrics = commands.add_parser("metrics", help="print the metrics of one window as JSON")
    metrics.add_argument(
        "--warehouse", help="DuckDB file (default: $DORA_WAREHOUSE or data/dora.duckdb)"
    )
    metrics.add_argument(
        "--start", required=True, help="window start (inclusive): a date or a timestamp"
    )
    metrics.add_argument(
        "--end", required=True, help="window end (exclusive): a date or a timestamp"
    )
    metrics.add_argument("--service", help="one service (default: all services together)")
    metrics.add_argument("--timezone", help="zone of the daily buckets (default: the refresh's)")
    metrics.add_argument("--pretty", action="store_true", help="indent the JSON")
    metrics.set_defaults(handler=run_metrics)

    sample = commands.add_parser("sample", help="generate sample events")
    sample.add_argument("--out", default=str(settings.SAMPLE_EVENTS_DIR), help="output folder")
    sample.add_argument("--size", default="small", choices=["small", "large", "xlarge"])
    sample.add_argument("--seed", type=int, default=7, help="random seed (same seed, same files)")
    sample.add_argument(
        "--end-date",
        type=date.fromisoformat,
        default=date(2026, 11, 30),
        help="last day (YYYY-MM-DD)",
    )
    sample.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="share of the days to simulate, in (0, 1], for quick runs",
    )
    sample.set_defaults(handler=run_sample)

    contract = commands.add_parser("contract", help="import or check outcome contracts")
    contract_commands = contract.add_subparsers(dest="contract_command", required=True)
    importer = contract_commands.add_parser(
        "import", help="turn a Markdown outcome contract into the contract YAML"
    )
    importer.add_argument("document", help="Markdown contract document")
    importer.add_argument("-o", "--output", help="YAML file to write (default: standard output)")
    importer.add_argument("--id", help="contract id (default: the document's file name)")
    importer.add_argument(
        "--start-date", help="mission start date, YYYY-MM-DD, if the document has none"
    )
    importer.set_defaults(handler=run_contract_import)
    validate = contract_commands.add_parser("validate", help="load and check contract files")
    validate.add_argument(
        "path", nargs="?", help="file or folder (default: $DORA_CONTRACTS or contracts/)"
    )
    validate.set_defaults(handler=run_contract_validate)

    ui = commands.add_parser("ui", help="start the Dagster UI with schedules and sensors")
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on")
    ui.add_argument("--port", type=int, default=3000, help="port to listen on")
    ui.set_defaults(handler=run_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except CliError as error:
        print(f"dora {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:
        from dagster_project.config import ConfigError
        from dagster_project.contract.markdown_import import ContractImportError
        from dagster_project.contract.validation import ContractError

        if isinstance(error, ConfigError | ContractError | ContractImportError | FileNotFoundError):
            print(f"dora {args.command}: error: {error}", file=sys.stderr)
            return EXIT_FAILED
        raise


if __name__ == "__main__":
    sys.exit(main())
