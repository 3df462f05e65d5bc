"""Pure run-status logic: vocabularies, errors, windows, RunState, aggregation."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from airflow_provider_aep.runs_status import (
    RunState,
    RunStatus,
    WaitTarget,
    aggregate_status,
    covers_window,
    extract_errors,
    has_exact_window,
    run_window,
    select_runs,
    to_epoch_seconds,
)

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
HOUR = 3600


def make_run(
    run_id: str = "r1",
    status: str | None = "success",
    started: float | None = T0,
    params: dict | None = None,
    copy_window: tuple[float, float] | None = None,
    **extra,
) -> dict:
    run: dict = {"id": run_id, "flowId": "f1", "metrics": {"statusSummary": {"status": status}}}
    if started is not None:
        run["metrics"]["durationSummary"] = {"startedAtUTC": int(started * 1000)}
    if params is not None:
        run["params"] = params
    if copy_window is not None:
        run["activities"] = [
            {
                "id": "copyActivity",
                "durationSummary": {
                    "extensions": {
                        "windowStart": int(copy_window[0] * 1000),
                        "windowEnd": int(copy_window[1] * 1000),
                    }
                },
            }
        ]
    run.update(extra)
    return run


@pytest.mark.parametrize(
    ("raw", "expected", "terminal"),
    [
        ("inProgress", RunStatus.IN_PROGRESS, False),
        ("IN_PROGRESS", RunStatus.IN_PROGRESS, False),
        ("in-progress", RunStatus.IN_PROGRESS, False),
        ("QUEUED", RunStatus.QUEUED, False),
        ("scheduled", RunStatus.SCHEDULED, False),
        ("success", RunStatus.SUCCESS, True),
        ("SUCCESS", RunStatus.SUCCESS, True),
        ("COMPLETED", RunStatus.SUCCESS, True),
        ("partialSuccess", RunStatus.PARTIAL_SUCCESS, True),
        ("PARTIAL_SUCCESS", RunStatus.PARTIAL_SUCCESS, True),
        ("PARTIAL_FAILURE", RunStatus.PARTIAL_SUCCESS, True),
        ("failed", RunStatus.FAILED, True),
        ("Failed", RunStatus.FAILED, True),
        ("FAILED", RunStatus.FAILED, True),
        ("cancelled", RunStatus.CANCELLED, True),
        ("CANCELED", RunStatus.CANCELLED, True),
        ("somethingNew", RunStatus.UNKNOWN, False),
        ("", RunStatus.UNKNOWN, False),
        (None, RunStatus.UNKNOWN, False),
    ],
)
def test_status_vocabularies(raw, expected, terminal):
    status = RunStatus.from_api(raw)
    assert status is expected
    assert status.is_terminal is terminal


@pytest.mark.parametrize("raw", ["cancelled", "failed", "somethingNew", None])
def test_failures_and_unknowns_are_never_success(raw):
    assert (
        aggregate_status([RunState(run_id="r", status=RunStatus.from_api(raw).value)])
        is not RunStatus.SUCCESS
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (T0, T0),
        (T0 * 1000, T0),
        (str(T0), T0),
        ("2026-01-01T00:00:00Z", T0),
        ("2026-01-01T01:00:00+01:00", T0),
        (datetime(2026, 1, 1, tzinfo=timezone.utc), T0),
        (None, None),
        ("not a date", None),
        (True, None),
    ],
)
def test_to_epoch_seconds(value, expected):
    assert to_epoch_seconds(value) == expected


def test_extract_errors_from_all_places_deduplicated():
    run = {
        "metrics": {
            "statusSummary": {
                "status": "failed",
                "errors": [{"code": "CONNECTOR-2001-500", "message": "source down"}],
                "extensions": {
                    "errors": [{"code": "INGEST-1212-400", "message": "partial", "recordCount": 3}]
                },
            }
        },
        "activities": [
            {
                "id": "copyActivity",
                "statusSummary": {
                    "errors": [{"code": "CONNECTOR-2001-500", "message": "source down"}],
                    "extensions": {
                        "errors": [{"code": "MAPPER-3700-400", "message": "bad row", "recordCount": 2}]
                    },
                },
            }
        ],
    }
    errors = extract_errors(run)
    assert [e["code"] for e in errors] == ["CONNECTOR-2001-500", "INGEST-1212-400", "MAPPER-3700-400"]
    assert errors[1]["recordCount"] == 3
    assert errors[2] == {
        "code": "MAPPER-3700-400",
        "message": "bad row",
        "recordCount": 2,
        "activity": "copyActivity",
    }


def test_extract_errors_tolerates_garbage():
    assert extract_errors({"metrics": {"statusSummary": {"errors": "x"}}, "activities": [None, 3]}) == []


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (
            make_run(params={"windowStartTime": str(T0), "windowEndTime": str(T0 + HOUR)}),
            (T0, T0 + HOUR, "params"),
        ),
        (
            make_run(params={"windowStartTime": T0 * 1000, "windowEndTime": (T0 + HOUR) * 1000}),
            (T0, T0 + HOUR, "params"),
        ),
        (make_run(copy_window=(T0, T0 + HOUR)), (T0, T0 + HOUR, "copy")),
        (make_run(started=T0 + HOUR), (None, T0 + HOUR, "scheduled")),
    ],
)
def test_run_window_sources(run, expected):
    assert run_window(run) == expected


@pytest.mark.parametrize(
    ("run", "covers"),
    [
        # on-demand run for exactly [T0, T0+1h)
        (make_run(params={"windowStartTime": T0, "windowEndTime": T0 + HOUR}), True),
        # copy window ending inside the interval
        (make_run(copy_window=(T0 - HOUR, T0 + 1800)), True),
        # scheduled run at the interval end reads data up to it
        (make_run(started=T0 + HOUR), True),
        # scheduled run at the interval start ingested the previous interval
        (make_run(started=T0), False),
        (make_run(started=T0 + HOUR + 1), False),
        (make_run(params={"windowStartTime": T0 + HOUR, "windowEndTime": T0 + 2 * HOUR}), False),
        (make_run(started=None), False),
    ],
)
def test_covers_window(run, covers):
    assert covers_window(run, T0, T0 + HOUR) is covers


@pytest.mark.parametrize(
    ("run", "exact"),
    [
        (make_run(params={"windowStartTime": T0, "windowEndTime": T0 + HOUR}), True),
        (make_run(params={"windowStartTime": str(T0), "windowEndTime": str(T0 + HOUR)}), True),
        (make_run(copy_window=(T0, T0 + HOUR)), True),
        (make_run(params={"windowStartTime": T0, "windowEndTime": T0 + 2 * HOUR}), False),
        (make_run(started=T0 + HOUR), False),
    ],
)
def test_has_exact_window(run, exact):
    assert has_exact_window(run, T0, T0 + HOUR) is exact


def test_select_runs_started_after_picks_first():
    runs = [
        make_run("late", started=T0 + 2 * HOUR),
        make_run("early", started=T0 + HOUR),
        make_run("old", started=T0 - 1),
    ]
    assert [r["id"] for r in select_runs(runs, WaitTarget(flow_id="f", started_after=T0))] == ["early"]
    assert select_runs(runs, WaitTarget(flow_id="f", started_after=T0 + 3 * HOUR)) == []


def test_select_runs_window_sorted_by_start():
    runs = [make_run("b", started=T0 + HOUR), make_run("a", started=T0 + 1800), make_run("x", started=T0)]
    assert [
        r["id"] for r in select_runs(runs, WaitTarget(flow_id="f", window_start=T0, window_end=T0 + HOUR))
    ] == [
        "a",
        "b",
    ]


def test_run_state_from_run_and_json_round_trip():
    run = make_run(status="partialSuccess", params={"windowStartTime": T0, "windowEndTime": T0 + HOUR})
    run["metrics"]["durationSummary"]["completedAtUTC"] = (T0 + 30) * 1000
    run["metrics"]["recordSummary"] = {"inputRecordCount": 10, "outputRecordCount": 8, "failedRecordCount": 2}
    run["metrics"]["sizeSummary"] = {"inputBytes": 1000, "outputBytes": 800}
    state = RunState.from_run(run)
    assert state.status == "partial_success"
    assert state.raw_status == "partialSuccess"
    assert (state.records_read, state.records_written, state.records_failed) == (10, 8, 2)
    assert (state.bytes_read, state.bytes_written) == (1000, 800)
    assert state.window_start == T0 and state.window_end == T0 + HOUR
    data = json.loads(json.dumps(state.to_dict()))
    assert RunState.from_dict(data) == state
    line = state.progress_line()
    assert "records read=10 written=8 failed=2" in line
    assert "bytes read=1000 written=800" in line
    assert "elapsed 30.0s" in line


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        {"status": "success"},
        {"run_id": "r", "status": "weird"},
        {"run_id": "r", "status": "success", "errors": "x"},
    ],
)
def test_run_state_from_dict_rejects_malformed(payload):
    with pytest.raises(ValueError):
        RunState.from_dict(payload)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], None),
        (["success"], RunStatus.SUCCESS),
        (["success", "in_progress"], None),
        (["success", "partial_success"], RunStatus.PARTIAL_SUCCESS),
        (["partial_success", "failed"], RunStatus.FAILED),
        (["success", "cancelled"], RunStatus.CANCELLED),
        (["unknown"], None),
    ],
)
def test_aggregate_status(statuses, expected):
    assert aggregate_status([RunState(run_id=str(i), status=s) for i, s in enumerate(statuses)]) is expected
