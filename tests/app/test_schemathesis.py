"""Property-based run of the whole OpenAPI document (schemathesis), as each role.

Every operation is called with generated valid and invalid input: no answer may be a server
error, and every answer must be documented (status code, content type, schema). The app is built
once for the module (schemathesis reads its OpenAPI document at collection time).
"""

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.openapi import from_asgi

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


def _api() -> Env:
    data = Path(tempfile.mkdtemp(prefix="netlm-schemathesis-"))
    url = f"sqlite:///{data / 'netlm.db'}"
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
    return Env(create_app(config, store), store, config, tokens)


API = _api()
schema = from_asgi("/openapi.json", API.app)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_as_each_role(case: schemathesis.Case) -> None:
    for role in ("viewer", "clinician", "admin"):
        case.call_and_validate(headers=API.auth(role), checks=CHECKS)
