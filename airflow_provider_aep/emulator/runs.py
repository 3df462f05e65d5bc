"""Flow-run simulation: read sample rows, apply a mapping, and report AEP-shaped run metrics.

:func:`execute_run` is pure (no clock, no I/O): the caller passes the times, ids and state, and
stores the returned :class:`RunOutcome` (records for the dataset, ``metrics`` and ``activities`` of
the run as Flow Service reports them, and the new delta watermark).

Row selection: a row is read when its delta column value is later than the watermark (if any) and,
for on-demand runs, inside ``[window_start, window_end)`` (epoch seconds). A row whose delta value
cannot be parsed is skipped (``skippedRecordCount``).

Outcome rules:

* a row fails when a mapped source column is absent or null, or its value does not fit the
  destination's XDM type (``MAPPER-3700-400``);
* no failures -> ``success``; some failures -> ``partialSuccess`` when
  ``partial_ingestion_percent`` is set and the failed share is within it, else ``failed``; every
  row failing is always ``failed``;
* a ``failed`` run writes nothing (the batch is not promoted) and keeps the old watermark;
* ``force_status`` overrides the outcome: ``failed`` simulates a connector failure
  (``CONNECTOR-2001-500``), ``partialSuccess`` turns some rows into failures if none failed,
  ``success`` keeps every row that mapped.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_aep.emulator.samples import SampleTable
from airflow_provider_aep.emulator.xdm import coerce_value, normalise_path, parse_datetime

__all__ = [
    "CONNECTOR_FAILURE_CODE",
    "MAPPER_ERROR_CODE",
    "PARTIAL_INGESTION_CODE",
    "RUN_STATUSES",
    "RunOutcome",
    "batch_id_for",
    "execute_run",
]

RUN_STATUSES = ("success", "partialSuccess", "failed")
MAPPER_ERROR_CODE = "MAPPER-3700-400"
PARTIAL_INGESTION_CODE = "INGEST-1212-400"
CONNECTOR_FAILURE_CODE = "CONNECTOR-2001-500"
SKIPPED_ROW_CODE = "CONNECTOR-1212-400"
_MAX_SAMPLE_ERRORS = 5
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass
class RunOutcome:
    """Result of one simulated flow run.

    ``records`` are the XDM records written to the target dataset (empty when the run failed),
    ``status`` is ``success``, ``partialSuccess`` or ``failed``, ``metrics`` and ``activities``
    follow Flow Service's run shape, and ``new_watermark`` is the latest delta value ingested in
    the source's own format (the previous watermark when nothing new was ingested).
    """

    records: list[dict]
    status: str
    metrics: dict
    activities: list[dict]
    new_watermark: str | None
    #: The rows the mapping rejected, as Data Access ``row_errors`` lines (kept only when the flow
    #: has error diagnostics enabled): ``{_corrupt_record, _errors[{code, message, column}], _filename}``.
    row_errors: list[dict] = field(default_factory=list)
    batch_id: str | None = None


@dataclass
class _RowError:
    row_index: int
    code: str
    message: str
    column: str | None = None


def batch_id_for(run_id: str, timestamp_ms: int) -> str:
    """A ULID-style Catalog batch id (26 Crockford base-32 chars), stable for (run id, time)."""
    entropy = int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:10], "big")
    value = ((timestamp_ms & (2**48 - 1)) << 80) | entropy
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def _derived_uuid(*parts: str) -> str:
    return str(uuid.UUID(bytes=hashlib.sha256("|".join(parts).encode()).digest()[:16], version=4))


def _json_size(obj: Any) -> int:
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def _map_target(field_types: Mapping[str, Mapping[str, Any]], dest: str) -> tuple[str, str, str] | None:
    """(map field, namespace, property) when ``dest`` points inside a map field such as identityMap."""
    for path, info in field_types.items():
        if info.get("meta:xdmType") == "map" and dest.startswith(path + "."):
            rest = dest[len(path) + 1 :].split(".")
            if len(rest) == 2:
                return path, rest[0], rest[1]
    return None


def _put(record: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    node = record
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"destination {path!r} conflicts with another mapping that writes a value there")
        node = child
    if isinstance(node.get(parts[-1]), dict):
        raise ValueError(f"destination {path!r} is an object written by another mapping")
    node[parts[-1]] = value


def _put_map_entry(record: dict, map_path: str, namespace: str, prop: str, value: Any) -> None:
    parts = map_path.split(".")
    node = record
    for part in parts:
        node = node.setdefault(part, {})
    entries = node.setdefault(namespace, [{}])
    entries[0][prop] = value


def _map_row(
    row: Mapping[str, Any],
    rules: list[tuple[str, str]],
    field_types: Mapping[str, Mapping[str, Any]],
) -> dict:
    """Apply the mapping to one row; raises _MappingError on the first problem."""
    record: dict = {}
    for source, destination in rules:
        dest = normalise_path(destination)
        if source not in row:
            raise _MappingError(source, f"source field '{source}' is missing from the row")
        raw = row[source]
        if raw is None:
            raise _MappingError(source, f"source field '{source}' is null but is mapped to '{dest}'")
        info = field_types.get(dest)
        in_map = _map_target(field_types, dest) if info is None else None
        try:
            if in_map is not None:
                entry_type = {"type": "boolean"} if in_map[2] == "primary" else {"type": "string"}
                _put_map_entry(record, *in_map, coerce_value(raw, entry_type))
            else:
                _put(record, dest, coerce_value(raw, info) if info is not None else raw)
        except ValueError as exc:
            raise _MappingError(source, f"cannot map '{source}' to '{dest}': {exc}") from None
    return record


class _MappingError(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def _row_error_info(errors: list[_RowError]) -> list[dict]:
    return [
        {"code": e.code, "message": e.message, "details": {"rowIndex": e.row_index, "column": e.column}}
        for e in errors[:_MAX_SAMPLE_ERRORS]
    ]


def _grouped(errors: list[_RowError], message: str) -> list[dict]:
    counts: dict[str, int] = {}
    for e in errors:
        counts[e.code] = counts.get(e.code, 0) + 1
    return [{"code": code, "message": message, "recordCount": n} for code, n in counts.items()]


def execute_run(
    *,
    table: SampleTable,
    mapping_rules: list[tuple[str, str]],
    field_types: dict[str, dict],
    delta_column: str | None,
    watermark: str | None,
    window_start: float | None,
    window_end: float | None,
    partial_ingestion_percent: float | None,
    force_status: str | None,
    started_at_ms: int,
    completed_at_ms: int,
    run_id: str,
    flow_id: str,
    source_connection_id: str,
    target_connection_id: str,
) -> RunOutcome:
    """Simulate one run of a flow over ``table``; see the module docstring for the rules.

    ``delta_column`` None means the table's own delta column. ``field_types`` is
    :func:`~airflow_provider_aep.emulator.xdm.field_paths` of the target schema; a destination not
    in it is written as is. Raises ValueError for an invalid ``force_status`` or ``watermark``.
    """
    if force_status is not None and force_status not in RUN_STATUSES:
        raise ValueError(f"force_status must be one of {RUN_STATUSES}, not {force_status!r}")
    delta = delta_column or table.delta_column
    since = parse_datetime(watermark) if watermark else None
    context: dict[str, Any] = {
        "started_at_ms": started_at_ms,
        "completed_at_ms": completed_at_ms,
        "run_id": run_id,
        "flow_id": flow_id,
        "source_connection_id": source_connection_id,
        "target_connection_id": target_connection_id,
        "window": (
            int(window_start) if window_start is not None else int(since.timestamp()) if since else 0,
            int(window_end) if window_end is not None else started_at_ms // 1000,
        ),
    }
    if delta not in table.column_names():
        return _assemble(
            records=[],
            status="failed",
            input_rows=[],
            failures=[],
            skipped=[],
            status_errors=[
                {
                    "code": CONNECTOR_FAILURE_CODE,
                    "message": f"The delta column '{delta}' does not exist in table '{table.name}'.",
                }
            ],
            copy_failed=True,
            new_watermark=watermark,
            **context,
        )

    selected: list[tuple[int, dict, datetime]] = []
    skipped: list[_RowError] = []
    input_rows: list[dict] = []
    for index, row in enumerate(table.rows):
        try:
            moment = parse_datetime(row.get(delta))
        except ValueError:
            input_rows.append(row)
            skipped.append(
                _RowError(index, SKIPPED_ROW_CODE, f"delta column '{delta}' has no valid timestamp", delta)
            )
            continue
        if since is not None and moment <= since:
            continue
        if window_start is not None and moment.timestamp() < window_start:
            continue
        if window_end is not None and moment.timestamp() >= window_end:
            continue
        selected.append((index, row, moment))
        input_rows.append(row)

    if force_status == "failed":
        return _assemble(
            records=[],
            status="failed",
            input_rows=input_rows,
            failures=[],
            skipped=skipped,
            status_errors=[
                {
                    "code": CONNECTOR_FAILURE_CODE,
                    "message": f"The source connector failed while reading table '{table.name}'.",
                }
            ],
            copy_failed=True,
            new_watermark=watermark,
            **context,
        )

    records: list[tuple[int, dict]] = []
    failures: list[_RowError] = []
    for index, row, _moment in selected:
        try:
            records.append((index, _map_row(row, mapping_rules, field_types)))
        except _MappingError as exc:
            failures.append(_RowError(index, MAPPER_ERROR_CODE, exc.message, exc.column))

    if force_status == "partialSuccess" and not failures and len(records) >= 2:
        # Fault injection: fail the newest tenth of the rows so the outcome is a real partial one.
        fail_count = max(1, len(records) // 10)
        failures = [
            _RowError(index, MAPPER_ERROR_CODE, "injected mapping failure (force_run_status)")
            for index, _record in records[-fail_count:]
        ]
        records = records[:-fail_count]

    attempted = len(selected)
    if not failures:
        status = "success"
    elif len(failures) == attempted:
        status = "failed"
    elif (
        partial_ingestion_percent is not None
        and 100.0 * len(failures) / attempted <= partial_ingestion_percent
    ):
        status = "partialSuccess"
    else:
        status = "failed"
    if force_status is not None:
        status = force_status

    status_errors: list[dict] = []
    if failures and status == "partialSuccess":
        status_errors.append(
            {
                "code": PARTIAL_INGESTION_CODE,
                "message": f"{len(failures)} of {attempted} rows failed and were left out; "
                f"{len(records)} rows were ingested. See the row errors of the batch.",
            }
        )
    elif failures and status == "failed":
        threshold = (
            f"partial ingestion threshold {partial_ingestion_percent}%"
            if partial_ingestion_percent is not None
            else "partial ingestion is off"
        )
        status_errors.append(
            {
                "code": MAPPER_ERROR_CODE,
                "message": f"{len(failures)} of {attempted} rows could not be mapped ({threshold}); "
                "the batch was not ingested.",
            }
        )

    written: list[dict] = []
    new_watermark = watermark
    if status != "failed":
        written = [record for _index, record in records]
        # The watermark moves past every row read, failed ones included: the next incremental
        # run does not retry rows that a partially successful run left out.
        latest = since
        for _index, row, moment in selected:
            if latest is None or moment > latest:
                latest, new_watermark = moment, str(row[delta])
    return _assemble(
        records=written,
        status=status,
        input_rows=input_rows,
        failures=failures,
        skipped=skipped,
        status_errors=status_errors,
        copy_failed=False,
        new_watermark=new_watermark,
        **context,
    )


def _assemble(
    *,
    records: list[dict],
    status: str,
    input_rows: list[dict],
    failures: list[_RowError],
    skipped: list[_RowError],
    status_errors: list[dict],
    copy_failed: bool,
    new_watermark: str | None,
    started_at_ms: int,
    completed_at_ms: int,
    run_id: str,
    flow_id: str,
    source_connection_id: str,
    target_connection_id: str,
    window: tuple[int, int],
) -> RunOutcome:
    input_bytes = sum(_json_size(r) for r in input_rows)
    output_bytes = sum(_json_size(r) for r in records)
    n_in, n_out = len(input_rows), len(records)
    n_failed = n_in - len(skipped) if copy_failed else len(failures)
    batch_id = batch_id_for(run_id, started_at_ms)
    copy_done_ms = started_at_ms + (completed_at_ms - started_at_ms) // 2
    record_errors = _grouped(failures, "Mapper Transform Error: the row does not fit the target XDM schema.")
    record_errors += _grouped(skipped, "The row has no valid value in the delta column and was skipped.")
    extensions: dict[str, Any] = {"errors": record_errors}
    if failures or skipped:
        meta = f"/data/foundation/export/batches/{batch_id}/meta?path="
        extensions["manifest"] = {
            "failedRecords": meta + "row_errors",
            "sampleErrors": meta + "row_error_samples",
        }
    record_summary = {
        "inputRecordCount": n_in,
        "outputRecordCount": n_out,
        "createdRecordCount": n_out,
        "updatedRecordCount": 0,
        "skippedRecordCount": len(skipped),
        "failedRecordCount": n_failed,
        "deletedRecordCount": 0,
        "warningRecordCount": 0,
        "skippedInfo": _row_error_info(skipped),
        "failedInfo": _row_error_info(failures),
    }
    file_summary = {
        "inputFileCount": 1 if n_in else 0,
        "outputFileCount": 1 if n_out else 0,
        "skippedFileCount": 0,
        "failedFileCount": 1 if status == "failed" and n_in else 0,
    }
    metrics = {
        "durationSummary": {"startedAtUTC": started_at_ms, "completedAtUTC": completed_at_ms},
        "sizeSummary": {"inputBytes": input_bytes, "outputBytes": output_bytes},
        "recordSummary": record_summary,
        "fileSummary": file_summary,
        "statusSummary": {"status": status, "errors": status_errors, "extensions": extensions},
    }
    copy_activity = {
        "id": "copyActivity",
        "name": "Copy Activity",
        "updatedAtUTC": copy_done_ms,
        "durationSummary": {
            "startedAtUTC": started_at_ms,
            "completedAtUTC": copy_done_ms,
            "extensions": {"windowStart": window[0], "windowEnd": window[1]},
        },
        "sizeSummary": {"inputBytes": input_bytes, "outputBytes": 0 if copy_failed else input_bytes},
        "recordSummary": {
            "inputRecordCount": n_in,
            "outputRecordCount": 0 if copy_failed else n_in - len(skipped),
            "skippedRecordCount": len(skipped),
        },
        "fileSummary": {
            "inputFileCount": file_summary["inputFileCount"],
            "outputFileCount": 0 if copy_failed else 1,
        },
        "statusSummary": {
            "status": "failed" if copy_failed else "success",
            "errors": status_errors if copy_failed else [],
            "extensions": {"errors": []},
        },
        "sourceInfo": [
            {
                "id": source_connection_id,
                "type": "SourceConnection",
                "reference": {"type": "AdfRunId", "ids": [_derived_uuid("adf", flow_id, run_id)]},
            }
        ],
    }
    promotion_activity = {
        "id": "promotionActivity",
        "name": "Promotion Activity",
        "updatedAtUTC": completed_at_ms,
        "durationSummary": {"startedAtUTC": copy_done_ms, "completedAtUTC": completed_at_ms},
        "sizeSummary": {"inputBytes": 0 if copy_failed else input_bytes, "outputBytes": output_bytes},
        "recordSummary": {
            "inputRecordCount": 0 if copy_failed else n_in - len(skipped),
            "outputRecordCount": n_out,
            "failedRecordCount": 0 if copy_failed else len(failures),
        },
        "fileSummary": {
            "inputFileCount": 0 if copy_failed else 1,
            "outputFileCount": file_summary["outputFileCount"],
        },
        "statusSummary": {"status": status, "errors": status_errors, "extensions": extensions},
        "targetInfo": [
            {
                "id": target_connection_id,
                "type": "TargetConnection",
                "reference": {"type": "Batch", "ids": [batch_id]},
            }
        ],
    }
    return RunOutcome(
        records=records,
        status=status,
        metrics=metrics,
        activities=[copy_activity, promotion_activity],
        new_watermark=new_watermark,
        row_errors=[
            {
                "_corrupt_record": f"source row {e.row_index}",
                "_errors": [{"code": e.code, "message": e.message, "column": e.column}],
                "_filename": "conversion_errors_0.json",
            }
            for e in failures
        ],
        batch_id=batch_id,
    )
