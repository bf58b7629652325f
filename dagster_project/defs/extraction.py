"""Jobs and sensors of the partitioned extraction: one job per kind, key sync, merge after a batch.

``extract_sources_sensor`` keeps each dynamic partitions definition equal to
the configured items and, once per UTC hour, requests one run per partition
key, all tagged with the same batch. Each run writes only its landing file,
so the runs may execute in parallel. When the last run of a batch finishes,
successful or not, ``merge_after_extraction_*`` request the warehouse job,
which merges every landing file and rebuilds the models. A failed partition
keeps its last good landing file, so the merge still includes its older rows.
"""

from datetime import UTC, datetime

import dagster as dg

from dagster_project.defs.landing import EXTRACTION_TAG, landing_key
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.partitions import PARTITIONED_SOURCES, PartitionedSource, key_changes

BATCH_TAG = "dora/extraction-batch"
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def extraction_job(source: PartitionedSource):
    """Return the job that runs one partition of a source's extraction asset."""
    return dg.define_asset_job(
        source.job_name,
        selection=dg.AssetSelection.assets(landing_key(source)),
        description=(
            f"Extract one {source.kind} partition into its landing file; it never writes "
            "the warehouse, so runs of different partitions may run in parallel."
        ),
        executor_def=dg.in_process_executor,
        tags={EXTRACTION_TAG: source.kind},
    )


EXTRACTION_JOBS = [extraction_job(source) for source in PARTITIONED_SOURCES]


def batch_name(now: datetime) -> str:
    """Return the batch of extraction runs started in the UTC hour of ``now``."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:00Z")


def partition_requests(changes) -> list[dg.AddDynamicPartitionsRequest]:
    """Return the requests that make the stored keys equal to the configured ones."""
    requests: list = []
    for change in changes:
        name = change.source.partitions.name
        if change.added:
            requests.append(dg.AddDynamicPartitionsRequest(name, change.added))
        if change.deleted:
            requests.append(dg.DeleteDynamicPartitionsRequest(name, change.deleted))
    return requests


@dg.sensor(
    name="extract_sources_sensor",
    jobs=EXTRACTION_JOBS,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Sync the partition keys with the configured repositories, projects and incident "
        "sources every 5 minutes, and once per UTC hour run every partition's extraction."
    ),
)
def extract_sources_sensor(context: dg.SensorEvaluationContext, run_settings: RunSettingsResource):
    changes = key_changes(context.instance, run_settings.load())
    batch = batch_name(datetime.now(UTC))
    runs = []
    if context.cursor != batch:
        runs = [
            dg.RunRequest(
                job_name=change.source.job_name,
                partition_key=key,
                run_key=f"{batch}:{change.source.kind}:{key}",
                tags={BATCH_TAG: batch},
            )
            for change in changes
            for key in change.keys
        ]
    return dg.SensorResult(
        run_requests=runs, dynamic_partitions_requests=partition_requests(changes), cursor=batch
    )


EXTRACTION_JOB_NAMES = frozenset(source.job_name for source in PARTITIONED_SOURCES)


def is_extraction_run(run: dg.DagsterRun) -> bool:
    """Tell whether a run extracted a partition: by its job, or by its assets for a UI run."""
    if run.job_name in EXTRACTION_JOB_NAMES:
        return True
    return any(key.path[0] == "landing" for key in run.asset_selection or ())


def _request_merge(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    if not is_extraction_run(run):
        return dg.SkipReason(f"run {run.run_id} of {run.job_name} extracted no partition")
    batch = run.tags.get(BATCH_TAG)
    if batch is not None:
        unfinished = context.instance.get_runs(
            filters=dg.RunsFilter(tags={BATCH_TAG: batch}, statuses=UNFINISHED)
        )
        if unfinished:
            return dg.SkipReason(f"{len(unfinished)} extraction runs of batch {batch} unfinished")
    # A run launched by hand (one partition, or a re-execution of a failed one)
    # without a batch tag is merged on its own.
    return dg.RunRequest(run_key=f"merge:{batch or run.run_id}:{run.run_id}")


def merge_sensors(merge_job) -> list[dg.RunStatusSensorDefinition]:
    """Return the sensors that run ``merge_job`` after each finished extraction batch."""
    sensors = []
    for status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE):
        sensors.append(
            dg.run_status_sensor(
                run_status=status,
                name=f"merge_after_extraction_{status.value.lower()}",
                # Every job of the code location: a partition materialized from
                # the UI or the CLI runs in Dagster's implicit asset job.
                request_job=merge_job,
                default_status=dg.DefaultSensorStatus.RUNNING,
                description=(
                    f"After an extraction run ends in {status.value}, run {merge_job.name} "
                    "when no run of its batch is still queued or running."
                ),
            )(_request_merge)
        )
    return sensors
