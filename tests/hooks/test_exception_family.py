"""The exception family: every class in exceptions.py, typed fields, one-line secret-free messages,
and a pickle / Airflow-serialisation round trip that keeps class, fields and message."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
import typing
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from airflow.serialization.serialized_objects import BaseSerialization

import airflow_provider_aep
from airflow_provider_aep import exceptions
from airflow_provider_aep.exceptions import (
    AEPAPIError,
    AEPAuthConfigError,
    AEPAuthenticationError,
    AEPConfigError,
    AEPError,
    AEPInputError,
    AEPResponseLostError,
)

SECRET = "s3cr3t-Pa55"
LEAKY_URL = f"https://svc_user:{SECRET}@example.my.salesforce.com/x"
# A value for every field name of the family; multi-line and with credentials, to test the message.
SAMPLE: dict[str, Any] = {
    "method": "POST",
    "path": "/data/foundation/flowservice/flows",
    "status": 503,
    "code": "FLOW-1503-503",
    "title": "Service\nUnavailable",
    "detail": f"backend {LEAKY_URL} said:\n  try later",
    "request_id": "req-1",
    "retry_after": 2.5,
    "field": "flow_id",
    "problem": f"is not a UUID:\n{LEAKY_URL}",
    "fix": "Pass the id\nof the flow.",
    "run_id": "run-1",
    "errors": [{"code": "CONNECTOR-2001-500", "message": f"read\nfailed at {LEAKY_URL}"}],
    "failed_records": 7,
    "flow_id": "flow-1",
}
MESSAGE = f"Something failed\n  for {LEAKY_URL}; fix it."


def _family() -> list[type[AEPError]]:
    return sorted(
        (c for c in vars(exceptions).values() if inspect.isclass(c) and issubclass(c, AEPError)),
        key=lambda c: c.__name__,
    )


FAMILY = _family()


def _pickled(error: AEPError) -> Any:
    """What another process gets: the error pickled and loaded (our own bytes, not untrusted data)."""
    return pickle.loads(pickle.dumps(error))  # noqa: S301


def _sample(cls: type[AEPError]) -> AEPError:
    if cls._fields:
        return cls(**{name: SAMPLE[name] for name in cls._fields})
    return cls(MESSAGE)


def test_the_whole_family_lives_in_exceptions_py() -> None:
    outside = []
    for info in pkgutil.walk_packages(airflow_provider_aep.__path__, "airflow_provider_aep."):
        if ".emulator" in info.name or info.name.endswith("__main__"):
            continue
        for obj in vars(importlib.import_module(info.name)).values():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name:
                outside.append(f"{info.name}.{obj.__name__}")
    assert [o for o in outside if not o.startswith("airflow_provider_aep.exceptions.")] == []
    assert len(FAMILY) >= 20


def test_old_import_paths_still_work() -> None:
    from airflow_provider_aep.operators import _create_lock, base, profile

    assert base.AEPResourceExistsError is exceptions.AEPResourceExistsError
    assert base.AEPResourceConflictError is exceptions.AEPResourceConflictError
    assert _create_lock.AEPCreateLockTimeoutError is exceptions.AEPCreateLockTimeoutError
    assert profile.AEPPreconditionError is exceptions.AEPPreconditionError


@pytest.mark.parametrize("cls", FAMILY, ids=lambda c: c.__name__)
def test_pickle_round_trip_keeps_class_fields_and_message(cls: type[AEPError]) -> None:
    error = _sample(cls)
    error.note = "extra state"  # type: ignore[attr-defined]
    again = _pickled(error)
    assert type(again) is cls
    assert again.field_values() == error.field_values()
    assert str(again) == str(error) and again.args == error.args
    assert again.note == "extra state"  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", FAMILY, ids=lambda c: c.__name__)
def test_airflow_serialisation_round_trip(cls: type[AEPError]) -> None:
    error = _sample(cls)
    again = BaseSerialization.deserialize(BaseSerialization.serialize(error))
    assert type(again) is cls
    assert again.field_values() == error.field_values()
    assert str(again) == str(error)


@pytest.mark.parametrize("cls", FAMILY, ids=lambda c: c.__name__)
def test_message_is_one_line_without_credentials(cls: type[AEPError]) -> None:
    error = _sample(cls)
    text = str(error)
    assert text and "\n" not in text and "  " not in text
    assert SECRET not in text and SECRET not in repr(error)
    assert SECRET not in str(_pickled(error))


@pytest.mark.parametrize("cls", [c for c in FAMILY if c._fields], ids=lambda c: c.__name__)
def test_data_travels_as_typed_fields(cls: type[AEPError]) -> None:
    error = _sample(cls)
    # the fields are exactly the constructor's arguments, in order, each a declared typed attribute
    assert tuple(inspect.signature(cls.__init__).parameters)[1:] == cls._fields
    hints = typing.get_type_hints(cls)
    for name in cls._fields:
        assert hints[name] is not Any, name
        assert getattr(error, name) == error.field_values()[name]
    assert hash(error) == hash(error)  # still hashable, as exceptions must be


def test_api_error_fields_and_retry_after() -> None:
    error = AEPAPIError(
        **{k: SAMPLE[k] for k in ("method", "path", "status", "code", "request_id")}, retry_after=3.0
    )
    assert (error.status, error.code, error.retry_after) == (503, "FLOW-1503-503", 3.0)
    assert "3.0" not in str(error), "retry_after is for the retries, not the message"
    lost = error.as_class(AEPResponseLostError)
    assert type(lost) is AEPResponseLostError and lost.field_values() == error.field_values()
    assert str(lost) == str(error)


def test_configuration_errors_are_not_authentication_errors() -> None:
    from airflow_provider_aep.hooks._retry import RetryPolicy

    with pytest.raises(AEPConfigError) as info:
        RetryPolicy(max_attempts=0)
    assert not isinstance(info.value, (AEPAuthConfigError, AEPAuthenticationError))
    assert issubclass(AEPAuthConfigError, AEPConfigError)


def test_deterministic_failures_skip_retries() -> None:
    no_retry = {c.__name__ for c in FAMILY if issubclass(c, AirflowFailException)}
    assert {
        "AEPInputError",
        "AEPResourceExistsError",
        "AEPResourceConflictError",
        "AEPQualityGateError",
        "AEPPreconditionError",
    } <= no_retry
    assert "AEPServerError" not in no_retry and "AEPRateLimitError" not in no_retry


def test_input_error_message_names_field_and_fix() -> None:
    error = AEPInputError("flow_id", "is not a UUID.", "Pass the flow's id.")
    assert str(error) == "flow_id: is not a UUID. Fix: Pass the flow's id."
    assert (error.field, error.problem, error.fix) == ("flow_id", "is not a UUID.", "Pass the flow's id.")
    assert isinstance(error, ValueError)
