"""Store fixtures: every store test runs on SQLite and on PostgreSQL, each from an empty database.

PostgreSQL is not optional: without it (NETLM_TEST_POSTGRES_URL, or the server programs for a
private cluster) its tests fail and say what to install; they never skip, so a green run always
means both backends were exercised.
"""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text

from netlm import Case, parse_case, parse_case_json
from netlm.store import Store, UserInfo, create_db_engine, upgrade

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
PASSWORD = "correct horse battery"
# Cheap argon2id parameters: the same algorithm, fast enough to hash in every test.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'netlm.db'}"
    url: str = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


class Clock:
    """Real time plus an offset the test can advance (to let throttling windows pass)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db_url: str, clock: Clock) -> Iterator[Store]:
    upgrade(db_url)
    engine = create_db_engine(db_url)
    yield Store(engine, clock=clock, hasher=FAST_HASHER)
    engine.dispose()


@pytest.fixture
def alice(store: Store) -> UserInfo:
    return store.add_user("alice", PASSWORD, "clinician", display_name="Dr Alice")


@pytest.fixture
def bob(store: Store) -> UserInfo:
    return store.add_user("bob", PASSWORD, "admin")


def example(stem_prefix: str) -> Case:
    """The example case whose file name starts with `stem_prefix`, e.g. "01"."""
    (path,) = (p for p in EXAMPLES if p.name.startswith(stem_prefix))
    return parse_case_json(path.read_text(encoding="utf-8"))


def all_examples() -> list[Case]:
    return [parse_case_json(p.read_text(encoding="utf-8")) for p in EXAMPLES]


def changed(case: Case, **sections: dict[str, object]) -> Case:
    """A copy of `case` with whole sections replaced or merged (one level deep)."""
    data = case.to_json_dict()
    for key, value in sections.items():
        current = data.get(key)
        data[key] = {**current, **value} if isinstance(current, dict) else value
    return parse_case(data)
