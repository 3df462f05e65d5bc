"""Trigger-form params and ``default_args`` for DAGs that drive AEP.

Every AEP task takes ``aep_conn_id`` and ``sandbox_name``, and the provider reads a few DAG params
by name: ``teardown`` (:func:`~airflow_provider_aep.operators.delete.delete_on_teardown`),
``plan_only`` (plan mode of every create task). This module holds those params, each with the
title and description the Airflow trigger form shows, and the ``default_args`` that hand the
connection and sandbox of a run to every task::

    from airflow_provider_aep import params as aep_params

    with DAG(
        ...,
        render_template_as_native_obj=True,  # a null sandbox stays None
        default_args=aep_params.aep_default_args(),
        params={**aep_params.aep_connection_params(), **aep_params.teardown_param()},
    ): ...

Each helper returns a new ``dict`` of :class:`~airflow.sdk.Param` (or of default args), so a DAG
merges what it needs and adds its own.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param

from airflow_provider_aep.validation import IF_EXISTS_CHOICES
from airflow_provider_aep.xcom_keys import PLAN

if TYPE_CHECKING:
    from airflow_provider_aep.sources import Source

#: Names of the params the provider's tasks read (through ``default_args`` or from the run).
AEP_CONN_ID = "aep_conn_id"
SANDBOX_NAME = "sandbox_name"
TEARDOWN = "teardown"
PLAN_ONLY = "plan_only"
IF_EXISTS = "if_exists"
#: The longest ``name_prefix``: names of AEP resources stay well under AEP's limits.
NAME_PREFIX_MAX_LENGTH = 60


def _from_params(name: str) -> str:
    """The template that renders the run's param *name*."""
    return "{{ params." + name + " }}"


def aep_connection_params(*, aep_conn_id: str = "aep_default") -> dict[str, Param]:
    """``aep_conn_id`` and ``sandbox_name``: where the run's AEP tasks work (see :func:`aep_default_args`)."""
    return {
        AEP_CONN_ID: Param(
            aep_conn_id,
            type="string",
            minLength=1,
            title="AEP connection",
            description="Airflow connection id of the Adobe Experience Platform credentials.",
        ),
        SANDBOX_NAME: Param(
            None,
            type=["null", "string"],
            title="AEP sandbox",
            description="Sandbox to work in, e.g. prod. Empty: the sandbox of the AEP connection.",
        ),
    }


def aep_default_args(
    *,
    retries: int = 2,
    retry_delay: datetime.timedelta = datetime.timedelta(seconds=20),
    if_exists_from_params: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """``default_args`` rendering every task's ``aep_conn_id`` and ``sandbox_name`` from the run's params.

    Retries are safe for the create tasks: a POST that failed without committing finds nothing by
    name on the retry, and one that committed is found and reused, so a retry never makes a twin.
    ``if_exists_from_params`` also renders ``if_exists`` from the param of :func:`converge_params`.
    Use with ``render_template_as_native_obj=True`` so that a null sandbox stays ``None``.
    """
    args: dict[str, Any] = {
        AEP_CONN_ID: _from_params(AEP_CONN_ID),
        SANDBOX_NAME: _from_params(SANDBOX_NAME),
        "retries": retries,
        "retry_delay": retry_delay,
    }
    if if_exists_from_params:
        args[IF_EXISTS] = _from_params(IF_EXISTS)
    args.update(extra)
    return args


def source_params(
    source: Source,
    *,
    source_conn_id: str,
    connection_help: str,
    name_prefix: str,
    table_name: str | None = None,
    table_help: str = "",
) -> dict[str, Param]:
    """``source_conn_id``, ``table_name`` and ``name_prefix`` of a DAG that ingests from *source*.

    :param source: the source system (an entry of :data:`~airflow_provider_aep.sources.SOURCES`).
    :param source_conn_id: default Airflow connection id of the source system.
    :param connection_help: what that connection holds, for the form (e.g. "host = the OData URL").
    :param name_prefix: default prefix of every resource name (names identify resources for reuse).
    :param table_name: default table (object, entity set...) to ingest; default: the source's example.
    :param table_help: more about the table for the form (e.g. "The mapping is for Account.").
    """
    return {
        "source_conn_id": Param(
            source_conn_id,
            type="string",
            minLength=1,
            title=f"{source.title} connection",
            description=f"Airflow connection id of the {source.title} instance: {connection_help}",
        ),
        "table_name": Param(
            table_name or source.example_table,
            type="string",
            minLength=1,
            title=f"{source.title} {source.table_kind}",
            description=f"The {source.table_kind} to ingest. {table_help}".strip(),
        ),
        "name_prefix": Param(
            name_prefix,
            type="string",
            minLength=1,
            maxLength=NAME_PREFIX_MAX_LENGTH,
            title="Resource name prefix",
            description=(
                "Starts the name of every AEP resource the run creates. A rerun with the same prefix "
                "reuses those resources instead of creating new ones."
            ),
        ),
    }


def teardown_param() -> dict[str, Param]:
    """``teardown``: read by the delete tasks that
    :func:`~airflow_provider_aep.operators.delete.delete_on_teardown` makes."""
    return {
        TEARDOWN: Param(
            False,
            type="boolean",
            title="Tear down",
            description=(
                "Delete what the run created once it is done (mapping sets stay: AEP cannot delete "
                "them). For a one-off test run."
            ),
        )
    }


def converge_params() -> dict[str, Param]:
    """``if_exists`` (see :func:`aep_default_args`) and ``plan_only`` (read by every create task)."""
    return {
        IF_EXISTS: Param(
            "converge",
            enum=list(IF_EXISTS_CHOICES),
            title="If a resource exists",
            description=(
                "converge: change it in place to match the DAG; reuse: keep it, log the drift; "
                "fail: stop the run; replace: delete it and create it again."
            ),
        ),
        PLAN_ONLY: Param(
            False,
            type="boolean",
            title="Plan only",
            description=(
                "Only show what the run would change (GETs only): see the task logs and the "
                f"{PLAN} XComs. Nothing is created or changed."
            ),
        ),
    }
