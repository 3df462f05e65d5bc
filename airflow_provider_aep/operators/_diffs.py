"""Field-level diffs of each resource kind: what AEP has vs what the task declares.

Each function returns a :class:`~._converge.Diff` whose changes are either allowed in place (and
carry no ``refused`` rule) or refused with the AEP rule that forbids them and the fix. The rules
(``aep-api.md`` §3.14 and the day-2 facts):

* flows: name/description, schedule frequency/interval, startTime before the original start,
  backfill before the start, the Mapping transformation and options can be PATCHed; flowSpec,
  source/target connection ids and the Copy delta column cannot (Adobe: create a new flow);
  startTime after the original start (SE 1366-400) or in the past (1360-400), backfill after the
  start (SE 1404-400), a switch to ``once`` after the start (SE 1403-400) and any schedule or
  mapping change of a ``once`` flow are refused;
* base connections: description and ``auth.params`` (``replace /auth/params``, If-Match) can
  change; the connection spec (1414-400) and the auth spec cannot;
* source/target connections: description only; the base connection, spec, table, columns,
  dataset and schema do not reach the dataflow (Adobe: make a new pair and a new flow);
* datasets: name/description/tags (Catalog PATCH); the schema is a link and cannot change;
* schemas: new field groups and the description (additive); the class and removing a field
  group are breaking changes AEP refuses once a dataset uses the schema;
* mapping sets: new mappings become the next version (PUT); another output schema is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_aep.operators._converge import WRITE_ONLY, Diff

NEW_FLOW = (
    "create a new flow (and source/target connections) under another name, or use "
    "if_exists='replace' (loses run history and watermark)"
)


def transformation(doc: Mapping[str, Any], name: str) -> tuple[int, dict[str, Any]]:
    """Index and params of the transformation called *name* (``-1, {}`` when absent)."""
    for i, t in enumerate(doc.get("transformations") or []):
        if isinstance(t, Mapping) and str(t.get("name", "")).lower() == name.lower():
            return i, dict(t.get("params") or {})
    return -1, {}


def _int(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _bool(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def normalise_schedule(sched: Mapping[str, Any]) -> dict[str, Any]:
    """Typed schedule values (AEP may answer with strings)."""
    out = dict(sched)
    for key in ("startTime", "interval"):
        if key in out:
            out[key] = _int(out[key])
    if "backfill" in out:
        out["backfill"] = _bool(out["backfill"])
    if isinstance(out.get("frequency"), str):
        out["frequency"] = out["frequency"].lower()
    return out


def flow_diff(
    found: Mapping[str, Any],
    *,
    flow_spec: str,
    source: str,
    target: str,
    copy: dict[str, Any] | None,
    mapping_id: str,
    mapping_version: str,
    schedule: dict[str, Any],
    start_pinned: bool,
    options: dict[str, Any] | None,
    description: str | None,
    now: float,
) -> Diff:
    """Diff of a dataflow; see the module docstring for the rules."""
    d = Diff()
    d.add(
        "flowSpec.id",
        (found.get("flowSpec") or {}).get("id"),
        flow_spec,
        refused="a flow's flow spec cannot be changed (not in AEP's updatable fields)",
        fix=NEW_FLOW,
    )
    d.add(
        "sourceConnectionIds",
        list(found.get("sourceConnectionIds") or []),
        [source],
        refused="a flow's source connection cannot be changed in place (Adobe: create a new flow)",
        fix=NEW_FLOW,
    )
    d.add(
        "targetConnectionIds",
        list(found.get("targetConnectionIds") or []),
        [target],
        refused="a flow's target connection cannot be changed in place (Adobe: create a new flow)",
        fix=NEW_FLOW,
    )
    _, copy_params = transformation(found, "Copy")
    have_delta = (copy_params.get("deltaColumn") or {}).get("name")
    want_delta = copy["deltaColumn"]["name"] if copy else None
    if copy is not None or have_delta is not None:
        d.add(
            "transformations[Copy].deltaColumn.name",
            have_delta,
            want_delta,
            refused="only the Mapping transformation of a flow can be updated",
            fix=NEW_FLOW,
        )
    have_sched = normalise_schedule(found.get("scheduleParams") or {})
    want_sched = normalise_schedule(schedule)
    have_freq = have_sched.get("frequency")
    once = have_freq == "once"
    have_start = have_sched.get("startTime")
    started = isinstance(have_start, int) and have_start <= now
    once_rule = "a one-time (once) flow cannot be rescheduled and its mapping cannot be edited"
    once_fix = "create a new once flow under another name"
    _, mapping_params = transformation(found, "Mapping")
    have_mapping = (mapping_params.get("mappingId"), str(mapping_params.get("mappingVersion")))
    if have_mapping != (mapping_id, mapping_version):
        d.add(
            "transformations[Mapping]",
            {"mappingId": have_mapping[0], "mappingVersion": have_mapping[1]},
            {"mappingId": mapping_id, "mappingVersion": mapping_version},
            refused=once_rule if once else None,
            fix=once_fix if once else None,
            note=None if once else "applies to runs scheduled after the change; watermark kept",
        )
    want_freq = want_sched.get("frequency")
    if want_freq != have_freq:
        if once:
            d.add("scheduleParams.frequency", have_freq, want_freq, refused=once_rule, fix=once_fix)
        elif want_freq == "once" and started:
            d.add(
                "scheduleParams.frequency",
                have_freq,
                want_freq,
                refused="a flow cannot become 'once' after its start time (SE 1403-400)",
                fix="create a new once flow under another name",
            )
        else:
            d.add("scheduleParams.frequency", have_freq, want_freq)
    if want_freq != "once" and not once:
        d.add("scheduleParams.interval", have_sched.get("interval"), want_sched.get("interval"))
        if "backfill" in have_sched or "backfill" in want_sched:
            d.add(
                "scheduleParams.backfill",
                have_sched.get("backfill"),
                want_sched.get("backfill"),
                refused="backfill cannot change after the start time (SE 1404-400)" if started else None,
                fix="keep backfill as it is, or replace the flow (re-ingests)" if started else None,
            )
    if start_pinned and want_sched.get("startTime") != have_start:
        want_start = want_sched.get("startTime")
        if once:
            d.add("scheduleParams.startTime", have_start, want_start, refused=once_rule, fix=once_fix)
        elif started:
            d.add(
                "scheduleParams.startTime",
                have_start,
                want_start,
                refused="the start time is locked once it has passed (SE 1366-400)",
                fix="drop start_time (or pass the flow's current one); a new start needs a new flow",
            )
        elif isinstance(want_start, int) and want_start < now:
            d.add(
                "scheduleParams.startTime",
                have_start,
                want_start,
                refused="a start time cannot be set in the past (SE 1360-400)",
                fix="pass a future start_time",
            )
        else:
            d.add("scheduleParams.startTime", have_start, want_start)
    if options is not None:
        d.add("options", dict(found.get("options") or {}), dict(options))
    if description is not None:
        d.add("description", found.get("description") or "", description)
    return d


def flow_patch_ops(found: Mapping[str, Any], diff: Diff, mapping_id: str, mapping_version: str) -> list:
    """JSON Patch operations for the allowed changes of a flow diff."""
    ops: list[dict[str, Any]] = []
    sched = found.get("scheduleParams") or {}
    for change in diff.updates:
        if change.field == "transformations[Mapping]":
            index, _ = transformation(found, "Mapping")
            ops.append(
                {
                    "op": "replace",
                    "path": f"/transformations/{index}",
                    "value": {
                        "name": "Mapping",
                        "params": {"mappingId": mapping_id, "mappingVersion": mapping_version},
                    },
                }
            )
        elif change.field.startswith("scheduleParams."):
            key = change.field.split(".", 1)[1]
            ops.append(
                {
                    "op": "replace" if key in sched else "add",
                    "path": f"/scheduleParams/{key}",
                    "value": change.want,
                }
            )
        elif change.field == "options":
            ops.append(
                {"op": "replace" if "options" in found else "add", "path": "/options", "value": change.want}
            )
        elif change.field == "description":
            ops.append({"op": "add", "path": "/description", "value": change.want})
    return ops


def base_connection_diff(
    found: Mapping[str, Any],
    *,
    spec_id: str,
    auth: Mapping[str, Any] | None,
    secret_keys: set[str],
    description: str | None,
) -> Diff:
    """Diff of a base connection; secrets are write-only in AEP and always re-sent (never compared)."""
    d = Diff()
    d.add(
        "connectionSpec.id",
        (found.get("connectionSpec") or {}).get("id"),
        spec_id,
        refused="a connection's connection spec cannot be changed (1414-400)",
        fix="create a new base connection under another name",
    )
    if auth is not None:
        have_auth = found.get("auth") or {}
        d.add(
            "auth.specName",
            have_auth.get("specName"),
            auth["specName"],
            refused="only auth.params can be replaced in place, not the auth spec",
            fix="create a new base connection under another name, or use if_exists='replace'",
        )
        have_params = have_auth.get("params") or {}
        wanted = auth.get("params") or {}
        for key in sorted(set(have_params) | set(wanted)):
            if key in secret_keys:
                continue
            d.add(f"auth.params.{key}", have_params.get(key), wanted.get(key))
        present = sorted(k for k in wanted if k in secret_keys and wanted.get(k))
        if present:
            d.changes.append(
                _always_sent(f"auth.params.{{{','.join(present)}}}", "from the Airflow connection")
            )
    if description is not None:
        d.add("description", found.get("description") or "", description)
    return d


def _always_sent(field: str, want: str) -> Any:
    from airflow_provider_aep.operators._converge import Change

    return Change(
        field,
        WRITE_ONLY,
        f"({want})",
        note="secrets are write-only in AEP: re-sent in place on every run, flows untouched",
    )


def only_secrets(diff: Diff) -> bool:
    """True when the only allowed change is the always-sent secret."""
    return all(c.have == WRITE_ONLY for c in diff.updates)
