"""Property-based run of the whole OpenAPI document (schemathesis), as each role, on SQLite and
on PostgreSQL (where a NUL byte that reaches the database is a server error).

Every operation is called with generated valid and invalid input: no answer may be a server
error, and every answer must be documented (status code, content type, schema). Besides what
schemathesis generates, about one case in three carries a hostile character (NUL, other C0 and
C1 controls, DEL, a bidirectional override, a zero-width space) in one of its path parameters,
query parameters or body strings. One app per database for the module; the number of requests
sent to each is printed at its end (`pytest -s`).
"""

import copy
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from schemathesis.openapi import from_asgi
from sqlalchemy import create_engine, text

from netlm import parse_case
from netlm.settings import Settings
from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from netlm.web.app import create_app
from tests.conftest import EXAMPLES, PASSWORD, Env, load_json

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
HOSTILE = ("\x00", "\x01", "\x1b", "\x7f", "\x85", "\u202e", "\u200b")
REQUESTS: Counter[str] = Counter()


def _empty(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """The app on an empty database: a user and token per role and one stored case."""
    data: Path = tmp_path_factory.mktemp(f"schemathesis-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{data / 'netlm.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        _empty(url)
    upgrade(url)
    config = Settings(
        database_url=url, secret_key="s" * 48, data_dir=data, public_url="http://testserver"
    )
    store = Store(create_db_engine(url))
    tokens = {}
    for role in ("admin", "clinician", "viewer"):
        user = store.add_user(role, PASSWORD, role, display_name=role)
        tokens[role] = store.create_token(user, "schemathesis")
    clinician = next(u for u in store.list_users() if u.role == "clinician")
    store.create_case(parse_case(load_json(EXAMPLES[2])), clinician)
    env = Env(create_app(config, store), store, config, tokens)
    env.app.state.database_kind = request.param
    yield env
    print(f"\nschemathesis on {request.param}: {REQUESTS[request.param]} requests")
    store.engine.dispose()


def _strings(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Where the strings are in a generated body (keys to follow)."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _spoil(case: schemathesis.Case, char: str, seed: int) -> schemathesis.Case:
    """`case` with `char` inserted into one of its strings (path, query or body)."""
    parts: dict[str, Any] = {
        "path_parameters": copy.deepcopy(case.path_parameters),
        "query": copy.deepcopy(case.query),
    }
    if isinstance(case.body, dict | list | str):
        parts["body"] = copy.deepcopy(case.body)
    slots = [(part, path) for part, value in parts.items() for path in _strings(value)]
    if not slots:
        return case
    part, path = random.Random(seed).choice(slots)
    if path:
        parent = parts[part]
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = _insert(parent[path[-1]], char)
    else:  # the body is one string
        parts[part] = _insert(parts[part], char)
    setattr(case, part, parts[part])
    return case


def _insert(value: str, char: str) -> str:
    return f"{value[: len(value) // 2]}{char}{value[len(value) // 2 :]}"


def _with_hostile(case: schemathesis.Case) -> st.SearchStrategy[schemathesis.Case]:
    """The case as generated, or (one time in three) with a hostile character in a string."""
    hostile = st.tuples(st.sampled_from(HOSTILE), st.integers(0, 2**16))
    return st.one_of(st.just(case), st.just(case), hostile.map(lambda pair: _spoil(case, *pair)))


def _cases(operation: Any) -> st.SearchStrategy[schemathesis.Case]:
    """Valid and invalid input for `operation`, some of it hostile."""
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    return st.one_of(*(operation.as_strategy(generation_mode=m) for m in modes)).flatmap(
        _with_hostile
    )


def test_every_operation_as_each_role(api: Env) -> None:
    """25 generated cases per operation, each sent as viewer, clinician and admin."""
    loaded = from_asgi("/openapi.json", api.app)
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert len(operations) > 20
    kind = api.app.state.database_kind
    for operation in operations:

        @given(case=_cases(operation))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)  # fmt: skip
        def run(case: schemathesis.Case) -> None:
            for role in ("viewer", "clinician", "admin"):
                REQUESTS[kind] += 1
                case.call_and_validate(headers=api.auth(role), checks=CHECKS)

        run()
