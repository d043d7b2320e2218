"""`netlm db follow-up add|list|import`: events entered from the shell and read from the FHIR
feeds in examples/fhir/feeds, stored once however often the chart is imported; bad input is
one line per problem and exit 2."""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netlm.cli.admin import db_app
from netlm.store import Store, create_db_engine
from tests.store.conftest import example

FEEDS = Path(__file__).resolve().parents[2] / "examples" / "fhir" / "feeds"
PASSWORD = "a long enough password"


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite store with a clinician, a viewer and case v01."""
    url = f"sqlite:///{tmp_path / 'data' / 'netlm.db'}"
    for key, value in {"NETLM_DATABASE_URL": url, "NETLM_DATA_DIR": str(tmp_path / "data"),
                       "NETLM_SECRET_KEY": "test-secret"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    assert CliRunner().invoke(db_app, ["upgrade"]).exit_code == 0
    engine = create_db_engine(url)
    store = Store(engine)
    nurse = store.add_user("nurse", PASSWORD, "clinician", display_name="Nurse N")
    store.add_user("watcher", PASSWORD, "viewer")
    store.create_case(example("01"), nurse)
    engine.dispose()
    return url


def db(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(db_app, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def test_add_then_list(url: str) -> None:
    code, out, err = db("follow-up", "add", "v01", "treatment", "2024-05-16", "--user", "nurse",
                        "--option", "ssa", "--stopped", "2024-12-01", "--note", "monthly")  # fmt: skip
    assert code == 0, err
    added = json.loads(out)
    assert (added["options"], added["stopped"], added["recorded_by"]) == (
        ["ssa"],
        "2024-12-01",
        "nurse",
    )
    code, out, _ = db("follow-up", "list", "v01")
    assert code == 0
    assert [e["id"] for e in json.loads(out)] == [added["id"]]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["progression", "2024-01-01", "--user", "nurse"], "criteria: "),
        (["death", "2999-01-01", "--user", "nurse"], "date: must not be in the future"),
        (["death", "someday", "--user", "nurse"], "date: "),
        (["death", "2024-01-01", "--user", "watcher"], "--user: 'watcher'"),
        (["death", "2024-01-01", "--user", "nobody"], "--user: 'nobody'"),
    ],
)
def test_bad_input_is_one_line_per_problem(url: str, args: list[str], words: str) -> None:
    code, _, err = db("follow-up", "add", "v01", *args)
    assert code == 2
    assert words in err
    assert db("follow-up", "add", "nope", "death", "2024-01-01", "--user", "nurse")[0] == 2


def test_import_reads_the_feed_once(url: str) -> None:
    chart = str(FEEDS / "mcode-01-pnet-after-prrt.json")
    code, out, _ = db("follow-up", "import", "v01", chart, "--user", "nurse", "--dry-run")
    assert code == 0
    assert "would add: 2023-01-10 treatment prrt stopped 2023-06-27" in out
    assert json.loads(db("follow-up", "list", "v01")[1]) == []
    code, out, _ = db("follow-up", "import", "v01", chart, "--user", "nurse")
    assert code == 0
    assert out.count("added ") == 2
    code, out, _ = db("follow-up", "import", "v01", chart, "--user", "nurse")
    assert out.count("skipped: ") == 2
    assert "already recorded" in out
    events = json.loads(db("follow-up", "list", "v01")[1])
    assert [(e["date"], e["options"]) for e in events] == [
        ("2023-01-10", ["prrt"]),
        ("2023-09-01", ["everolimus"]),
    ]
    assert os.path.basename(chart) not in events[0]["note"]
    assert "MedicationAdministration/prrt-1" in events[0]["note"]
