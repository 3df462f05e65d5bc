"""Issue 11, defect 6 on the operator side: numeric parameters are finite and in range.

``interval=10**400`` was accepted and sent; a NaN or infinite ``start_time`` raised ``ValueError``
or ``OverflowError``; a NaN option would be sent as invalid JSON. Each now fails with
:class:`AEPInputError` naming the parameter, at construction (static values) or at the start of
``execute`` (templated values), before any request.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.operators.flows import AEPCreateDataflowOperator
from airflow_provider_aep.validation import MAX_INTERVAL, build_schedule, to_epoch_seconds

UUID_A = "3fb0418e-1804-45d6-8d56-dd51f05c0baf"
UUID_B = "4fb0418e-1804-45d6-8d56-dd51f05c0baf"
UUID_C = "5fb0418e-1804-45d6-8d56-dd51f05c0baf"


def _flow(**kwargs: Any) -> AEPCreateDataflowOperator:
    base: dict[str, Any] = {
        "task_id": "flow",
        "name": "bounded flow",
        "flow_spec_id": UUID_A,
        "source_connection_id": UUID_B,
        "target_connection_id": UUID_C,
        "mapping_id": "0" * 32,
        "delta_column": "LastModifiedDate",
    }
    base.update(kwargs)
    return AEPCreateDataflowOperator(**base)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"interval": 10**400}, "interval"),
        ({"interval": "9" * 400}, "interval"),
        ({"frequency": "minute", "interval": 10**7}, "interval"),
        ({"frequency": "week", "interval": 54}, "interval"),
        ({"start_time": math.nan}, "start_time"),
        ({"start_time": math.inf}, "start_time"),
        ({"start_time": -math.inf}, "start_time"),
        ({"start_time": 10**400}, "start_time"),
        ({"start_time": "9" * 400}, "start_time"),
        ({"start_time": "nan"}, "start_time"),
        ({"options": {"partialIngestionPercent": math.nan}}, "partialIngestionPercent"),
        ({"options": {"partialIngestionPercent": math.inf}}, "partialIngestionPercent"),
        ({"options": {"partialIngestionPercent": "nan"}}, "partialIngestionPercent"),
        ({"options": {"errorDiagnosticsEnabled": "yes"}}, "errorDiagnosticsEnabled"),
        ({"mapping_version": "9" * 400}, "mapping_version"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_dataflow_numbers_bounded_at_construction(kwargs, field):
    with pytest.raises(AEPInputError, match=field) as info:
        _flow(**kwargs)
    assert "Fix:" in str(info.value)


@pytest.mark.parametrize("frequency", sorted(MAX_INTERVAL))
def test_interval_limit_is_one_year_per_frequency(frequency):
    at_limit = build_schedule(frequency, MAX_INTERVAL[frequency], None, 0)
    assert at_limit["interval"] == MAX_INTERVAL[frequency]
    with pytest.raises(AEPInputError, match="interval"):
        build_schedule(frequency, MAX_INTERVAL[frequency] + 1, None, 0)


@pytest.mark.parametrize("value", [1_700_000_000, 1_700_000_000.5, "1700000000"])
def test_valid_start_times_still_work(value):
    assert to_epoch_seconds("start_time", value) == 1_700_000_000
