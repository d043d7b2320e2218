"""Database commands find the configured database from any folder and name it in what they say."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netlm.settings import database_url, default_data_dir, spark_folders
from tests.conftest import ROOT

NETLM = Path(sys.executable).parent / "netlm"


def _netlm(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NETLM_")}
    return subprocess.run(
        [str(NETLM), *args], capture_output=True, text=True, cwd=cwd, timeout=60,
        env={**clean, **env},
    )  # fmt: skip


def test_the_default_data_folder_is_the_checkouts_not_the_current_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_data_dir() == ROOT / "var"


def test_user_list_elsewhere_creates_nothing_and_names_the_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    here = tmp_path / "elsewhere"
    here.mkdir()
    done = _netlm(["user", "list"], here, NETLM_DATA_DIR=str(data))
    assert done.returncode == 2
    url = f"sqlite:///{data / 'netlm.db'}"
    assert done.stderr == (
        f"error: no database at {url}; create it with `netlm db upgrade` (which makes that "
        "file), or point NETLM_DATA_DIR or NETLM_DATABASE_URL at the one you use\n"
    )
    assert list(here.iterdir()) == []
    assert not data.exists()
    # the command it names makes the database it names, from another folder again
    upgraded = _netlm(["db", "upgrade"], tmp_path, NETLM_DATA_DIR=str(data))
    assert upgraded.returncode == 0, upgraded.stderr
    assert (data / "netlm.db").is_file()
    listed = _netlm(["user", "list"], here, NETLM_DATA_DIR=str(data))
    assert listed.returncode == 0, listed.stderr
    assert list(here.iterdir()) == []


def test_database_url_follows_the_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETLM_DATABASE_URL", raising=False)
    monkeypatch.setenv("NETLM_DATA_DIR", "/srv/netlm")
    assert database_url() == "sqlite:////srv/netlm/netlm.db"


def test_spark_folders_are_under_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETLM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert spark_folders() == {
        "spark.sql.warehouse.dir": str(tmp_path / "data" / "spark" / "warehouse"),
        "spark.local.dir": str(tmp_path / "data" / "spark" / "tmp"),
    }
