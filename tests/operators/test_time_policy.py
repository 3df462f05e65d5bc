"""One time parser, one policy: every operator reads the same inputs as the same instant, and
refuses the same ambiguous ones (naive datetimes, ISO strings without an offset, microseconds).

Checked through each operator's own validation step (no HTTP): the dataflow's ``start_time``, the
run operator's window and the sensor's window and ``started_after``.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pendulum
import pytest

from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.operators.flows import AEPCreateDataflowOperator
from airflow_provider_aep.operators.runs import AEPRunFlowOperator
from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor
from airflow_provider_aep.validation import parse_time

UUID_A = "0756caa1-ea23-4560-9fc7-dd402c4babc5"
UUID_B = "39d2c51b-b851-440f-b7a2-d4246202b5a7"


@pytest.fixture(autouse=True)
def _aep_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection to read settings from (the poll-interval floor depends on the host); no HTTP."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_AEP_DEFAULT",
        json.dumps(
            {
                "conn_type": "adobe_experience_platform",
                "login": "client",
                "password": "secret-value",
                "host": "http://127.0.0.1:9",
                "extra": {"ims_org_id": "ORG@AdobeOrg"},
            }
        ),
    )


JAN1 = 1_767_225_600  # 2026-01-01T00:00:00Z
LATER = JAN1 + 7 * 86400


def flow_start(value: Any) -> float:
    op = AEPCreateDataflowOperator(
        task_id="f",
        name="flow",
        flow_spec_id=UUID_A,
        source_connection_id=UUID_A,
        target_connection_id=UUID_B,
        mapping_id="91c0779738d9c651c3e44feceefa001e",
        start_time=value,
        frequency="day",
    )
    return float(op._validate().schedule["startTime"])


def run_window_start(value: Any) -> float:
    op = AEPRunFlowOperator(task_id="r", flow_id=UUID_A, window_start=value, window_end=LATER)
    return op.validate({})[1]


def sensor_window_start(value: Any) -> float:
    sen = AEPFlowRunSensor(task_id="s", flow_id=UUID_A, window_start=value, window_end=LATER)
    return float(sen.build_target({}).window_start)  # type: ignore[arg-type]


def sensor_started_after(value: Any) -> float:
    sen = AEPFlowRunSensor(task_id="s", flow_id=UUID_A, started_after=value)
    return float(sen.build_target({}).started_after)  # type: ignore[arg-type]


READERS = {
    "dataflow.start_time": (flow_start, "start_time"),
    "run.window_start": (run_window_start, "window_start"),
    "sensor.window_start": (sensor_window_start, "window_start"),
    "sensor.started_after": (sensor_started_after, "started_after"),
}

SAME_INSTANT = {
    "aware": datetime(2026, 1, 1, tzinfo=timezone.utc),
    "aware-offset": datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
    "pendulum": pendulum.datetime(2026, 1, 1, tz="UTC"),
    "date": date(2026, 1, 1),
    "date-string": "2026-01-01",
    "epoch-s": JAN1,
    "epoch-s-float": float(JAN1),
    "epoch-s-digits": str(JAN1),
    "epoch-ms": JAN1 * 1000,
    "epoch-ms-digits": str(JAN1 * 1000),
    "iso-z": "2026-01-01T00:00:00Z",
    "iso-rendered": "2026-01-01 00:00:00+00:00",
}

REFUSED = {
    "naive-datetime": (datetime(2026, 1, 1), "naive"),
    "iso-without-offset": ("2026-01-01T00:00:00", "offset"),
    "microseconds": (JAN1 * 1_000_000, "year 3000"),
    "negative": (-5, "negative"),
    "word": ("yesterday", "not a time"),
    "bool": (True, "must be a time"),
    "nan": (float("nan"), "not a time"),
}


@pytest.mark.parametrize("form", SAME_INSTANT, ids=list(SAME_INSTANT))
@pytest.mark.parametrize("reader", READERS, ids=list(READERS))
def test_every_operator_reads_every_form_as_the_same_instant(reader: str, form: str) -> None:
    read, _ = READERS[reader]
    assert read(SAME_INSTANT[form]) == JAN1 == parse_time("x", SAME_INSTANT[form])


@pytest.mark.parametrize("form", REFUSED, ids=list(REFUSED))
@pytest.mark.parametrize("reader", READERS, ids=list(READERS))
def test_every_operator_refuses_the_same_inputs_naming_the_field(reader: str, form: str) -> None:
    read, field = READERS[reader]
    value, words = REFUSED[form]
    with pytest.raises(AEPInputError) as info:
        read(value)
    assert info.value.field == field
    assert words in str(info.value)
    with pytest.raises(AEPInputError) as direct:
        parse_time(field, value)
    assert str(direct.value) == str(info.value)  # the same parser, the same one-line message
