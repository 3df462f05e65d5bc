"""The source table (:mod:`airflow_provider_aep.sources`) is the one place a source is described.

Every entry of ``SOURCES``, and every auth type of each, gets the same tests: the table is
consistent, each auth type builds its params from an Airflow connection with every secret masked,
a missing piece fails naming the connection field and the fix, and the base connection operator
creates and converges it against the emulator. A fake source registered in the table reaches every
code path (validation, auth, masking, converge, lineage) without any other change.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_aep import sources
from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.lineage import source_namespace
from airflow_provider_aep.operators.connections import AEPCreateBaseConnectionOperator
from airflow_provider_aep.sources import SOURCES, AuthType, Source, SourceCredentials
from airflow_provider_aep.validation import check_date_format, check_uuid

#: Words that make a param name look secret; every such param must be declared secret.
SECRET_WORDS = ("secret", "password", "token", "key", "credential")
PASSWORD = "pw-Table-Secret-5f1"
TOKEN = "tok-Table-Secret-8c2"
CLIENT_SECRET = "cs-Table-Secret-3d9"
API_KEY = "key-Table-Secret-6b7"
ALL_SECRETS = (PASSWORD, TOKEN, CLIENT_SECRET, API_KEY)

AUTH_CASES = [
    pytest.param(source, auth, id=f"{key}-{auth.name}")
    for key, source in SOURCES.items()
    for auth in source.auth_types
]


def _full_credentials(auth: AuthType, conn_id: str = "src") -> SourceCredentials:
    """A connection holding every piece any builder of the table reads."""
    return SourceCredentials(
        conn_id,
        host="https://acme.example.test/svc",
        login="user-or-client-id",
        password=PASSWORD,
        extra={
            "auth_type": auth.name,
            "security_token": TOKEN,
            "client_secret": CLIENT_SECRET,
            "api_version": "60.0",
        },
    )


@pytest.fixture
def masked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every value registered with Airflow's secret masker."""
    values: list[str] = []
    monkeypatch.setattr("airflow.sdk.log.mask_secret", lambda value, name=None: values.append(str(value)))
    return values


@pytest.mark.parametrize(("key", "source"), list(SOURCES.items()))
def test_table_entry_is_consistent(key: str, source: Source) -> None:
    assert source.key == key
    check_uuid("connection_spec_id", source.connection_spec_id)
    assert sources.source_for_spec(source.connection_spec_id) is source
    assert source.auth_types, "a source needs at least one auth type"
    names = [a.name for a in source.auth_types]
    assert len(set(names)) == len(names) and len(set(source.auth_spec_names)) == len(names)
    for auth in source.auth_types:
        assert auth.secret_params <= set(auth.params), f"{auth.name}: secret params it never sends"
        looks_secret = {p for p in auth.params if any(w in p.lower() for w in SECRET_WORDS)}
        assert looks_secret <= auth.secret_params, f"{auth.name}: {looks_secret - auth.secret_params}"
    if source.delta_column is not None:
        check_date_format("delta_date_format", source.delta_date_format)
    assert source.lineage_scheme.isidentifier() and source.flow_spec_name


@pytest.mark.parametrize(("source", "auth"), AUTH_CASES)
def test_each_auth_type_builds_its_params_with_secrets_masked(
    source: Source, auth: AuthType, masked: list[str]
) -> None:
    built = source.build_auth(_full_credentials(auth))
    assert built.spec_name == auth.spec_name
    assert set(built.params) <= set(auth.params)
    assert built.secret_keys == auth.secret_params & set(built.params)
    for key in built.secret_keys:
        assert str(built.params[key]) in masked, f"{key} not masked"
    assert PASSWORD in masked  # the connection's password, whether or not the auth type uses it
    for key, value in built.params.items():
        if key not in built.secret_keys:
            assert not any(s in str(value) for s in ALL_SECRETS), f"non-secret {key} holds a secret"
    assert built.body() == {"specName": auth.spec_name, "params": dict(built.params)}


@pytest.mark.parametrize(("source", "auth"), AUTH_CASES)
@pytest.mark.parametrize("missing", ["host", "login", "password", "api_version"])
def test_a_missing_piece_names_the_connection_field_and_the_fix(
    source: Source, auth: AuthType, missing: str, masked: list[str]
) -> None:
    full = _full_credentials(auth, conn_id="acme_src")
    extra = {k: v for k, v in full.extra.items() if k != missing}
    creds = SourceCredentials(
        full.conn_id,
        host=None if missing == "host" else full.host,
        login=None if missing == "login" else full.login,
        password=None if missing == "password" else full.password,
        extra=extra,
    )
    try:
        source.build_auth(creds)
    except AEPInputError as exc:
        assert exc.field in ("source_conn_id", "acme_src.host"), exc.field
        assert "acme_src" in str(exc) and exc.fix
        assert missing.split("_")[0] in str(exc).lower()
        assert not any(s in str(exc) for s in ALL_SECRETS)
    # else: this auth type does not read that piece


@pytest.mark.parametrize("source", list(SOURCES.values()), ids=list(SOURCES))
def test_an_auth_type_the_source_lacks_is_refused_naming_the_extra(source: Source) -> None:
    creds = SourceCredentials("src", host="h.test", extra={"auth_type": "kerberos"})
    with pytest.raises(AEPInputError) as info:
        source.build_auth(creds)
    assert info.value.field == "src.extra.auth_type"
    assert all(a.name in str(info.value.fix) for a in source.auth_types)


@pytest.mark.parametrize(("source", "auth"), AUTH_CASES)
def test_operator_creates_and_converges_every_source_and_auth_type(
    aep: Any,
    run_op: Any,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture,
    source: Source,
    auth: AuthType,
) -> None:
    creds = _full_credentials(auth)
    conn = {"conn_type": "generic", "host": creds.host, "login": creds.login, "password": creds.password}
    monkeypatch.setenv("AIRFLOW_CONN_TABLE_SRC", json.dumps({**conn, "extra": dict(creds.extra)}))
    kwargs = {"task_id": "b", "name": f"table {source.key} {auth.name}", "source": source.key}
    first, xcoms = run_op(AEPCreateBaseConnectionOperator(source_conn_id="table_src", **kwargs))
    assert xcoms == {"connection_spec_id": source.connection_spec_id}
    stored = AdobeExperiencePlatformHook().get_base_connection(first)
    assert stored["connectionSpec"]["id"] == source.connection_spec_id
    assert stored["auth"]["specName"] == auth.spec_name
    # day 2: a rotated password is re-sent in place (secrets are never compared); same id
    rotated = {**conn, "password": PASSWORD + "-rotated", "extra": dict(creds.extra)}
    monkeypatch.setenv("AIRFLOW_CONN_TABLE_SRC", json.dumps(rotated))
    second, _ = run_op(AEPCreateBaseConnectionOperator(source_conn_id="table_src", **kwargs))
    assert second == first
    patched = [r for r in aep.requests() if r["method"] == "PATCH" and r["path"].endswith(first)]
    assert len(patched) == (1 if auth.secret_params else 0)
    out, err = capfd.readouterr()
    assert not any(s in out + err for s in ALL_SECRETS)


# ----------------------------------------------------------------------------- a new source
def _acme_basic(c: SourceCredentials) -> dict[str, Any]:
    """A source whose password is an API key kept in the extra."""
    key = c.required_extra("api_key", "the helpdesk API key", '{"api_key": "..."}')
    return {"endpoint": c.url(), "username": c.login or "api", "password": key}


ACME = Source(
    key="acme_helpdesk",
    title="ACME Helpdesk",
    # the emulator knows ServiceNow's spec; the fake source reuses its auth shape
    connection_spec_id=sources.SERVICENOW.connection_spec_id,
    auth_types=(
        AuthType(
            "apikey",
            "Basic Authentication",
            _acme_basic,
            params=("endpoint", "username", "password"),
            secret_params=frozenset({"password"}),
        ),
    ),
    lineage_scheme="acme",
    table_kind="queue",
    example_table="tickets",
    delta_column="updated_at",
)


def test_a_source_added_to_the_table_reaches_every_code_path(
    aep: Any,
    run_op: Any,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture,
    masked: list[str],
) -> None:
    monkeypatch.setitem(SOURCES, ACME.key, ACME)
    extra = {"api_key": API_KEY}
    conn = {"conn_type": "generic", "host": "acme.example.test", "login": "bot", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_ACME_SRC", json.dumps(conn))
    op = AEPCreateBaseConnectionOperator(
        task_id="b", name="acme base", source="acme_helpdesk", source_conn_id="acme_src"
    )
    connection_id, xcoms = run_op(op)  # validation accepts the key; the table's builder runs
    assert xcoms == {"connection_spec_id": ACME.connection_spec_id}
    assert API_KEY in masked  # declared secret param: masked although it came from an extra
    stored = AdobeExperiencePlatformHook().get_base_connection(connection_id)
    assert stored["auth"]["params"]["endpoint"] == "https://acme.example.test"
    out, err = capfd.readouterr()
    assert API_KEY not in out + err
    # the wrong auth spec for this source names the field and lists the source's specs
    with pytest.raises(AEPInputError) as info:
        AEPCreateBaseConnectionOperator(
            task_id="c",
            name="acme base",
            source="acme_helpdesk",
            source_conn_id="acme_src",
            auth_spec_name="OAuth2 Client Credential",
        )
    assert info.value.field == "auth_spec_name" and "Basic Authentication" in str(info.value.fix)
    # a missing extra names the connection and the fix, before any request
    before = len(aep.requests())
    monkeypatch.setenv("AIRFLOW_CONN_ACME_SRC", json.dumps({**conn, "extra": {}}))
    with pytest.raises(AEPInputError, match="api_key") as info:
        run_op(
            AEPCreateBaseConnectionOperator(
                task_id="d", name="acme 2", source="acme_helpdesk", source_conn_id="acme_src"
            )
        )
    assert "acme_src" in str(info.value) and info.value.fix
    assert len(aep.requests()) == before


def test_unknown_source_lists_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SOURCES, ACME.key, ACME)
    with pytest.raises(AEPInputError) as info:
        AEPCreateBaseConnectionOperator(task_id="b", name="n", source="zendesk", source_conn_id="c")
    assert info.value.field == "source"
    assert all(key in str(info.value.fix) for key in SOURCES)


def test_lineage_namespace_comes_from_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    own = Source(**{**ACME.__dict__, "connection_spec_id": "0f0e0d0c-0b0a-4909-8807-060504030201"})
    monkeypatch.setitem(SOURCES, own.key, own)
    params = {"endpoint": "https://acme.example.test/api/v2", "password": API_KEY}
    assert source_namespace(own.connection_spec_id, params, "base") == "acme://acme.example.test"
    keeps_path = Source(**{**own.__dict__, "lineage_keeps_path": True})
    monkeypatch.setitem(SOURCES, own.key, keeps_path)
    assert source_namespace(own.connection_spec_id, params, "base") == "acme://acme.example.test/api/v2"
    for source in (sources.SALESFORCE_SERVICE_CLOUD, sources.SERVICENOW, sources.GENERIC_ODATA):
        url = {"url": "https://x.test/root", "endpoint": "https://x.test/root"}
        assert source_namespace(source.connection_spec_id, url, "b").startswith(f"{source.lineage_scheme}://")


@pytest.mark.parametrize("source", list(SOURCES.values()), ids=list(SOURCES))
def test_entries_still_read_like_the_old_dicts(source: Source) -> None:
    assert source["connection_spec_id"] == source.connection_spec_id
    assert source["auth_specs"] == tuple(a.spec_name for a in source.auth_types)
    with pytest.raises(KeyError):
        source["flow_spec"]


@pytest.mark.parametrize(
    ("conn_id", "source", "label", "api_name"),
    [
        ("snow", sources.SERVICENOW, "User", "sys_user"),
        ("ssc_oauth", sources.SALESFORCE_SERVICE_CLOUD, "Invoice", "Invoice__c"),
    ],
)
def test_explore_reads_a_table_by_label_and_names_the_sources_table_kind(
    aep: Any, run_op: Any, conn_id: str, source: Source, label: str, api_name: str
) -> None:
    from airflow_provider_aep.operators.connections import AEPCreateSourceConnectionOperator

    base, _ = run_op(
        AEPCreateBaseConnectionOperator(
            task_id="b", name=f"explore {conn_id}", source=source.key, source_conn_id=conn_id
        )
    )
    common = {"task_id": "s", "base_connection_id": base, "connection_spec_id": source.connection_spec_id}
    _, by_label = run_op(
        AEPCreateSourceConnectionOperator(name=f"by label {conn_id}", table_name=label, **common)
    )
    _, by_name = run_op(
        AEPCreateSourceConnectionOperator(name=f"by name {conn_id}", table_name=api_name, **common)
    )
    assert by_label["columns"] == by_name["columns"] and by_label["columns"]
    with pytest.raises(AEPInputError) as info:
        run_op(AEPCreateSourceConnectionOperator(name=f"nope {conn_id}", table_name="Nope", **common))
    assert info.value.field == "table_name"
    assert f"'Nope' is not a table ({source.table_kind}) of base connection" in str(info.value)
    assert by_label["table_name"] == by_name["table_name"] == api_name  # a label becomes the API name
