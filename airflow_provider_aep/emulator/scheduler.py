"""Flow runs on the emulated clock, computed lazily whenever flows or runs are read."""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any

from .state import FlowRuntime, RunRuntime, new_etag, new_id
from .validation import FREQUENCY_SECONDS, coerce_schedule

if TYPE_CHECKING:
    from .state import EmulatorState, SandboxState

logger = logging.getLogger("airflow_provider_aep.emulator")

#: At most this many missed schedule slots are caught up in one go (older ones are skipped).
MAX_CATCH_UP = 50


def schedule_of(flow: dict[str, Any]) -> dict[str, Any]:
    """The flow's schedule with typed values."""
    return coerce_schedule(flow.get("scheduleParams") or {})


def new_runtime(flow: dict[str, Any], now: float) -> FlowRuntime:
    """Schedule cursor for a new flow: the first run at ``startTime`` (or now, if that passed)."""
    sched = schedule_of(flow)
    start = float(sched.get("startTime", now))
    rt = FlowRuntime(next_run_at=None if sched.get("frequency") == "once" else max(start, now))
    if sched.get("frequency") != "once" and sched.get("backfill") is False:
        rt.first_window_start = start
    return rt


def _next_slot(sched: dict[str, Any], after: float) -> float:
    start = float(sched["startTime"])
    step = FREQUENCY_SECONDS[sched["frequency"]] * max(int(sched.get("interval") or 1), 1)
    if after < start:
        return start
    return start + (math.floor((after - start) / step) + 1) * step


def target_schema_id(sb: SandboxState, target: dict[str, Any]) -> str | None:
    """The target connection's ``data.schema.id``, or else its dataset's ``schemaRef.id``."""
    schema_id = ((target.get("data") or {}).get("schema") or {}).get("id")
    if schema_id:
        return str(schema_id)
    dataset = sb.datasets.get(str((target.get("params") or {}).get("dataSetId")))
    ref = (dataset or {}).get("schemaRef") or {}
    return str(ref["id"]) if ref.get("id") else None


def copy_delta_column(flow: dict[str, Any]) -> str | None:
    """``transformations[Copy].params.deltaColumn.name``."""
    for tr in flow.get("transformations") or []:
        if str(tr.get("name", "")).lower() == "copy":
            dc = (tr.get("params") or {}).get("deltaColumn") or {}
            name = dc.get("name") if isinstance(dc, dict) else None
            return str(name) if name else None
    return None


def create_run(
    state: EmulatorState,
    sb: SandboxState,
    flow: dict[str, Any],
    *,
    started_at: float,
    window_start: float | None,
    window_end: float | None,
    delta_column: str | None,
    scheduled: bool,
    client_id: str,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create an ``inProgress`` run of ``flow`` starting at emulated ``started_at``.

    ``params`` are an on-demand run's request params; AEP echoes them on the run from its creation,
    which is how a client finds an in-progress run by its window.
    """
    run_id = new_id()
    started_ms = int(started_at * 1000)
    now_ms = state.clock.now_ms()
    run = {
        "id": run_id,
        "createdAt": now_ms,
        "updatedAt": now_ms,
        "createdBy": f"{client_id}@AdobeID",
        "updatedBy": f"{client_id}@AdobeID",
        "createdClient": client_id,
        "updatedClient": client_id,
        "sandboxId": sb.sandbox_id,
        "sandboxName": sb.name,
        "imsOrgId": sb.org,
        "flowId": flow["id"],
        "flowSpec": dict(flow.get("flowSpec") or {}),
        "providerRefId": new_id(),
        "etag": new_etag(),
        "metrics": {
            "durationSummary": {"startedAtUTC": started_ms},
            "sizeSummary": {"inputBytes": 0, "outputBytes": 0},
            "recordSummary": {"inputRecordCount": 0, "outputRecordCount": 0, "failedRecordCount": 0},
            "fileSummary": {"inputFileCount": 0, "outputFileCount": 0},
            "statusSummary": {"status": "inProgress", "errors": []},
        },
        "activities": [],
        "state": "inProgress",
    }
    if params is not None:
        run["params"] = dict(params)
    sb.runs[run_id] = run
    sb.run_runtime[run_id] = RunRuntime(
        run_id=run_id,
        flow_id=flow["id"],
        real_done_at=time.time() + state.config.run_duration_seconds,
        started_at_ms=started_ms,
        window_start=window_start,
        window_end=window_end,
        delta_column=delta_column,
        scheduled=scheduled,
    )
    sb.flow_runtime[flow["id"]].run_ids.append(run_id)
    return run


def advance(state: EmulatorState, sb: SandboxState) -> None:
    """Create due scheduled runs and finish runs whose duration has elapsed."""
    now = state.clock.now()
    for flow_id, flow in sb.flows.items():
        rt = sb.flow_runtime[flow_id]
        try:
            _schedule_due_runs(state, sb, flow, rt, now)
        except (ArithmeticError, ValueError, TypeError, KeyError) as exc:
            # One flow must never break the reads of a whole sandbox: stop its schedule instead.
            logger.warning("flow %s: schedule stopped (%s)", flow_id, type(exc).__name__)
            rt.next_run_at = None
    real_now = time.time()
    for flow_id in sb.flows:
        rt = sb.flow_runtime[flow_id]
        for run_id in rt.run_ids:
            rrt = sb.run_runtime.get(run_id)
            if rrt is None or rrt.finished:
                continue
            if rrt.real_done_at > real_now:
                break  # runs of one flow finish in order
            try:
                finish_run(state, sb, rrt)
            except (ArithmeticError, ValueError, TypeError, KeyError, AttributeError) as exc:
                logger.warning("run %s: failed to execute (%s)", run_id, type(exc).__name__)
                _fail_run(sb, rrt, f"The emulator could not execute the run ({type(exc).__name__}).")


def _schedule_due_runs(
    state: EmulatorState, sb: SandboxState, flow: dict[str, Any], rt: FlowRuntime, now: float
) -> None:
    sched = schedule_of(flow)
    if flow.get("state") != "enabled" or rt.next_run_at is None or sched.get("frequency") == "once":
        return
    if sched.get("frequency") not in FREQUENCY_SECONDS:
        return
    step = FREQUENCY_SECONDS[sched["frequency"]] * max(int(sched.get("interval") or 1), 1)
    if rt.next_run_at <= now and (now - rt.next_run_at) / step > MAX_CATCH_UP:
        rt.next_run_at = _next_slot(sched, now - MAX_CATCH_UP * step)
    while rt.next_run_at is not None and rt.next_run_at <= now:
        slot = rt.next_run_at
        first = not rt.run_ids
        create_run(
            state,
            sb,
            flow,
            started_at=slot,
            window_start=rt.first_window_start if first else None,
            window_end=slot,
            delta_column=copy_delta_column(flow),
            scheduled=True,
            client_id=str(flow.get("createdClient", "")),
        )
        rt.next_run_at = _next_slot(sched, slot)


def _fail_run(sb: SandboxState, rrt: RunRuntime, message: str) -> None:
    rrt.finished = True
    run = sb.runs.get(rrt.run_id)
    if run is None:
        return
    run["state"] = "failed"
    run["metrics"]["statusSummary"] = {
        "status": "failed",
        "errors": [{"code": "CONNECTOR-2001-500", "message": message}],
    }
    run["etag"] = new_etag()


def advance_all(state: EmulatorState) -> None:
    """Advance every sandbox (admin endpoints)."""
    for sb in list(state.sandboxes.values()):
        advance(state, sb)


def _mapping_for(sb: SandboxState, flow: dict[str, Any]) -> dict[str, Any] | None:
    for tr in flow.get("transformations") or []:
        if str(tr.get("name", "")).lower() == "mapping":
            params = tr.get("params") or {}
            versions = sb.mapping_sets.get(str(params.get("mappingId")))
            if not versions:
                return None
            try:
                wanted = int(params.get("mappingVersion", len(versions) - 1))
            except (TypeError, ValueError):
                wanted = len(versions) - 1
            return versions[min(max(wanted, 0), len(versions) - 1)]
    return None


def _source_login_ok(state: EmulatorState, sb: SandboxState, src: dict[str, Any]) -> bool:
    from .credentials import base_connection_valid, rules

    if not rules(state):
        return True
    base = src.get("baseConnectionId")
    return base is None or base_connection_valid(state, sb, str(base))


def finish_run(state: EmulatorState, sb: SandboxState, rrt: RunRuntime) -> None:
    """Execute the run once (runs.execute_run), store its outcome, write records, advance watermark."""
    from .routes_schemaregistry import schema_field_paths
    from .runs import execute_run

    rrt.finished = True
    run = sb.runs[rrt.run_id]
    flow = sb.flows.get(rrt.flow_id)
    duration_ms = int(state.config.run_duration_seconds * state.clock.time_scale * 1000)
    completed_ms = max(rrt.started_at_ms + duration_ms, rrt.started_at_ms)
    failure: str | None = None
    failure_code = "CONNECTOR-2001-500"
    outcome = None
    if flow is None:
        failure = "The flow was deleted while the run was in progress."
    else:
        rt = sb.flow_runtime[flow["id"]]
        src = sb.source_connections.get((flow.get("sourceConnectionIds") or [""])[0])
        tgt = sb.target_connections.get((flow.get("targetConnectionIds") or [""])[0])
        mapping = _mapping_for(sb, flow)
        table = None
        if src is not None:
            spec_id = (src.get("connectionSpec") or {}).get("id")
            params = src.get("params") or {}
            tname = params.get("tableName") or params.get("path")
            table = state.source_catalog.get(str(spec_id), {}).get(str(tname))
        if src is None or tgt is None or mapping is None or table is None:
            failure = "A connection, mapping or source table used by the flow no longer exists."
        elif not _source_login_ok(state, sb, src):
            failure = "Copying from the source failed: the source refused the base connection's credentials."
            failure_code = "CONNECTOR-1001-500"
        else:
            schema_id = target_schema_id(sb, tgt)
            try:
                field_types = schema_field_paths(sb, str(schema_id))
            except KeyError:
                field_types = {}
            rules = [(m["source"], m["destination"]) for m in mapping.get("mappings", [])]
            fault_status = state.faults_dict.get("force_run_status")
            left = state.faults_dict.get("force_run_status_count")
            only_flows = state.faults_dict.get("force_run_status_flows")
            if only_flows is not None and flow["id"] not in only_flows:
                fault_status = None  # scoped to other flows: this run is left alone
            if fault_status and isinstance(left, int):  # only the next ``left`` finishing runs
                fault_status = fault_status if left > 0 else None
                state.faults_dict["force_run_status_count"] = max(left - 1, 0)
            options = flow.get("options") or {}
            pip = options.get("partialIngestionPercent")
            outcome = execute_run(
                table=table,
                mapping_rules=rules,
                field_types=field_types,
                delta_column=rrt.delta_column,
                watermark=rt.watermark if rrt.scheduled else None,
                window_start=rrt.window_start,
                window_end=rrt.window_end,
                partial_ingestion_percent=float(pip) if pip is not None else None,
                force_status=fault_status,
                started_at_ms=rrt.started_at_ms,
                completed_at_ms=completed_ms,
                run_id=rrt.run_id,
                flow_id=flow["id"],
                source_connection_id=src["id"],
                target_connection_id=tgt["id"],
            )
            dataset_id = str((tgt.get("params") or {}).get("dataSetId"))
            state.records.setdefault(dataset_id, []).extend(outcome.records)
            if options.get("errorDiagnosticsEnabled") is True and outcome.batch_id and outcome.row_errors:
                sb.row_errors[outcome.batch_id] = outcome.row_errors
            if rrt.scheduled and outcome.new_watermark is not None:
                rt.watermark = outcome.new_watermark
    if outcome is not None:
        run["metrics"] = outcome.metrics
        run["activities"] = outcome.activities
        status = outcome.status
    else:
        status = "failed"
        run["metrics"]["durationSummary"]["completedAtUTC"] = completed_ms
        run["metrics"]["statusSummary"] = {
            "status": "failed",
            "errors": [{"code": failure_code, "message": failure}],
        }
    run["state"] = status
    run["updatedAt"] = state.clock.now_ms()
    run["etag"] = new_etag()
    if flow is not None:
        flow["lastRunDetails"] = {
            "id": rrt.run_id,
            "state": status,
            "startedAtUTC": rrt.started_at_ms,
            "completedAtUTC": run["metrics"].get("durationSummary", {}).get("completedAtUTC", completed_ms),
        }
