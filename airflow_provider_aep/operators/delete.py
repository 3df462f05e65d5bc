"""Delete any resource the create operators make (usable as a teardown task)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.exceptions import AEPInputError, AEPNotFoundError
from airflow_provider_aep.flow_ref import check_flow_name, resolve_flow_id
from airflow_provider_aep.operators.base import AEPBaseOperator
from airflow_provider_aep.validation import (
    check_dataset_id,
    check_enum,
    check_schema_id,
    check_uuid,
    check_xdm_ref,
    is_templated,
)

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context, XComArg

    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

RESOURCE_TYPES = (
    "flow",
    "source_connection",
    "target_connection",
    "base_connection",
    "dataset",
    "schema",
    "class",
)

_ID_CHECKS: dict[str, Callable[[str, Any], str]] = {
    "flow": check_uuid,
    "source_connection": check_uuid,
    "target_connection": check_uuid,
    "base_connection": check_uuid,
    "dataset": check_dataset_id,
    "schema": check_schema_id,
    "class": check_xdm_ref,
}


def _deleter(hook: AdobeExperiencePlatformHook, resource_type: str) -> Callable[[str], None]:
    return {
        "flow": hook.delete_flow,
        "source_connection": hook.delete_source_connection,
        "target_connection": hook.delete_target_connection,
        "base_connection": hook.delete_base_connection,
        "dataset": hook.delete_dataset,
        "schema": hook.delete_schema,
        "class": hook.delete_class,
    }[resource_type]


class AEPDeleteResourceOperator(AEPBaseOperator):
    """Delete a flow, connection, dataset, schema or class; "not found" counts as success.

    Typical use: ``AEPDeleteResourceOperator(task_id=..., resource_type="flow",
    resource_id=create_flow.output).as_teardown(setups=create_flow)``.

    :param resource_type: one of :data:`RESOURCE_TYPES`.
    :param resource_id: its id (schemas/classes: ``$id`` or ``meta:altId``).
    :param flow_name: for ``resource_type="flow"`` only, instead of ``resource_id``: the flow's exact
        name (templated), resolved at execute time; no flow of that name counts as already deleted,
        several fail with the matches named.

    Returns the id; pushes ``deleted`` (``False`` when it was already gone).
    Mapping sets cannot be deleted (Data Prep has no DELETE).
    """

    template_fields: Sequence[str] = (
        *AEPBaseOperator.template_fields,
        "resource_type",
        "resource_id",
        "flow_name",
    )

    def __init__(
        self,
        *,
        resource_type: str,
        resource_id: str | XComArg | None = None,
        flow_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.resource_type = resource_type
        self.resource_id = resource_id
        self.flow_name = flow_name
        if (resource_id is None) == (flow_name is None):
            raise AEPInputError(
                "resource_id/flow_name",
                "pass exactly one of them." if flow_name is None else "both are given.",
                "Pass resource_id, or flow_name with resource_type='flow'.",
            )
        if flow_name is not None and not is_templated(flow_name):
            check_flow_name(flow_name)
        if not is_templated(resource_type):
            check_enum("resource_type", resource_type, RESOURCE_TYPES)
            self._check_name_allowed(resource_type)
            if resource_id is not None and not is_templated(resource_id):
                _ID_CHECKS[resource_type]("resource_id", resource_id)

    def _check_name_allowed(self, rtype: str) -> None:
        if self.flow_name is not None and rtype != "flow":
            raise AEPInputError(
                "flow_name",
                f"only applies to resource_type='flow', not {rtype!r}.",
                "Pass resource_id for other resource types.",
            )

    def execute(self, context: Context) -> str | None:
        """Delete the resource and return its id."""
        rtype = check_enum("resource_type", self.resource_type, RESOURCE_TYPES)
        self._check_name_allowed(rtype)
        if self.flow_name is not None:
            check_flow_name(self.flow_name)
            found = resolve_flow_id(self.hook, None, self.flow_name, self.log, missing_ok=True)
            if found is None:
                self.log.info("No flow is named %r: nothing to delete", self.flow_name)
                self.xcom_push(context, xcom_keys.DELETED, False)
                return None
            rid = found
        else:
            rid = _ID_CHECKS[rtype]("resource_id", self.resource_id)
        if self.plan_write(rtype, rid, "delete", rid, "would be deleted"):
            return rid
        try:
            _deleter(self.hook, rtype)(rid)
        except AEPNotFoundError:
            self.log.info("%s %s was already gone (404); nothing to delete", rtype, rid)
            self.xcom_push(context, xcom_keys.DELETED, False)
            return rid
        self.log.info("Deleted %s %s", rtype, rid)
        self.xcom_push(context, xcom_keys.DELETED, True)
        return rid


def skip_unless_param(param: str, context: Context) -> None:
    """``pre_execute`` gate: skip the task unless the DAG run's ``params[param]`` is true."""
    from airflow.sdk.exceptions import AirflowSkipException

    if not context["params"].get(param):
        raise AirflowSkipException(f"param {param!r} is false: keeping the resource")


def delete_on_teardown(
    setup: BaseOperator,
    resource_type: str,
    *,
    task_id: str,
    resource_id: str | XComArg | None = None,
    only_if_param: str | None = "teardown",
) -> AEPDeleteResourceOperator:
    """A delete task for what ``setup`` created, registered as its teardown.

    Teardowns run even when an earlier step failed; with ``only_if_param`` the task skips itself
    unless that DAG param is true. Gating inside the task (not with a short-circuit task in front)
    keeps the DAG run's state decided by the real work. ``resource_id`` defaults to ``setup.output``
    (pass e.g. ``XComArg(adhoc, key=xcom_keys.CLASS_ID)`` for a second id).
    """
    gate = partial(skip_unless_param, only_if_param) if only_if_param else None
    return AEPDeleteResourceOperator(
        task_id=task_id,
        resource_type=resource_type,
        resource_id=setup.output if resource_id is None else resource_id,
        pre_execute=gate,
    ).as_teardown(setups=setup)


#: The create tasks of a one-table ingestion chain (the ids :func:`~airflow_provider_aep.ingestion.
#: ingest_table` gives with ``prefix_group_id=False``): resource type and delete task id of each.
INGESTION_TASKS: dict[str, tuple[str, str]] = {
    "create_dataflow": ("flow", "delete_dataflow"),
    "create_source_connection": ("source_connection", "delete_source_connection"),
    "create_target_connection": ("target_connection", "delete_target_connection"),
    "create_base_connection": ("base_connection", "delete_base_connection"),
    "create_dataset": ("dataset", "delete_dataset"),
    "create_target_schema": ("schema", "delete_target_schema"),
}


def delete_ingestion_on_teardown(
    dag: Any,
    *,
    after: str,
    dataflow_task_id: str = "create_dataflow",
    only_if_param: str | None = "teardown",
) -> dict[str, AEPDeleteResourceOperator]:
    """Teardown of a one-table ingestion chain: one :func:`delete_on_teardown` task per resource.

    Deletes in dependency order once *after* (the task id of the last step, e.g. the wait for the
    first run) is done: the dataflow, then the source connection (then its base connection) and the
    target connection (then the dataset, then the target schema). Mapping sets stay: AEP has no
    DELETE for them. The create tasks are found in *dag* by their usual ids (:data:`INGESTION_TASKS`;
    the dataflow's is *dataflow_task_id*). Returns the delete tasks by task id
    (``delete_dataflow``, ``delete_source_connection``...), for a DAG that deletes more after them.
    """
    creates = {dataflow_task_id if t == "create_dataflow" else t: v for t, v in INGESTION_TASKS.items()}
    missing = sorted(t for t in (*creates, after) if t not in dag.task_dict)
    if missing:
        raise AEPInputError(
            "dag",
            f"has no task {', '.join(missing)} (a task of the one-table ingestion chain).",
            "Build the chain with ingest_table(..., prefix_group_id=False), or pass dataflow_task_id/after.",
        )
    deletes = {
        delete_id: delete_on_teardown(
            dag.task_dict[create_id], kind, task_id=delete_id, only_if_param=only_if_param
        )
        for create_id, (kind, delete_id) in creates.items()
    }
    dag.task_dict[after] >> deletes["delete_dataflow"]
    deletes["delete_dataflow"] >> [deletes["delete_source_connection"], deletes["delete_target_connection"]]
    deletes["delete_source_connection"] >> deletes["delete_base_connection"]
    deletes["delete_target_connection"] >> deletes["delete_dataset"] >> deletes["delete_target_schema"]
    return deletes
