"""`netlm cds client add|update|list` register the EHRs that may call the CDS service."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netlm.cli.cds import cds_app
from netlm.store.db import upgrade
from tests.cds.ehr import Ehr

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    url = f"sqlite:///{tmp_path / 'netlm.db'}"
    upgrade(url)
    monkeypatch.setenv("NETLM_DATABASE_URL", url)
    monkeypatch.setenv("NETLM_DATA_DIR", str(tmp_path))
    return tmp_path


def test_add_and_list_clients(db: Path) -> None:
    ehr = Ehr()
    jwks = db / "ehr.jwks.json"
    jwks.write_text(json.dumps(ehr.jwks()))
    added = runner.invoke(
        cds_app,
        ["client", "add", "--issuer", ehr.issuer, "--jwks-file", str(jwks), "--name", "Ward EHR"],
    )
    assert added.exit_code == 0, added.output
    assert added.output == (
        f"registered {ehr.issuer} (3 stored key(s), 0 jku URL(s), 0 FHIR server(s))\n"
    )
    by_url = runner.invoke(
        cds_app,
        [
            "client",
            "add",
            "--issuer",
            "https://sandbox.example",
            "--jku",
            "https://sandbox.example/.well-known/jwks.json",
            "--fhir-server",
            "https://sandbox.example/fhir/r4/",
            "--fhir-server",
            "https://sandbox.example/fhir/r5",
        ],
    )
    assert by_url.exit_code == 0, by_url.output
    assert by_url.output.endswith("1 jku URL(s), 2 FHIR server(s))\n")
    listed = runner.invoke(cds_app, ["client", "list"])
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0] == (f"{ehr.issuer}\tWard EHR\tkids: es384-1, es256-1, rs384-1\tjku: -\tfhir: -")
    assert lines[1] == (
        "https://sandbox.example\thttps://sandbox.example\tkids: -"
        "\tjku: https://sandbox.example/.well-known/jwks.json"
        "\tfhir: https://sandbox.example/fhir/r4, https://sandbox.example/fhir/r5"
    )


def test_fhir_servers_are_https_unless_allowed_and_can_be_replaced(db: Path) -> None:
    issuer = "https://ehr.example"
    add = ["client", "add", "--issuer", issuer, "--jku", f"{issuer}/jwks"]
    http = runner.invoke(cds_app, [*add, "--fhir-server", "http://127.0.0.1:8080/fhir"])
    assert http.exit_code == 2
    assert "not https; plain http needs --allow-http" in http.output
    assert runner.invoke(cds_app, ["client", "list"]).output == ""  # nothing registered
    dev = [*add, "--fhir-server", "http://127.0.0.1:8080/fhir", "--allow-http"]
    assert runner.invoke(cds_app, dev).exit_code == 0

    replaced = runner.invoke(
        cds_app, ["client", "update", issuer, "--fhir-server", "https://fhir.ehr.example/r4"]
    )
    assert replaced.output == f"updated {issuer}: FHIR servers https://fhir.ehr.example/r4\n"
    assert (
        runner.invoke(
            cds_app, ["client", "update", issuer, "--fhir-server", "http://fhir.ehr.example/r4"]
        ).exit_code
        == 2
    )  # http again needs the flag
    cleared = runner.invoke(cds_app, ["client", "update", issuer, "--no-fhir-server"])
    assert cleared.output == f"updated {issuer}: FHIR servers none\n"
    assert runner.invoke(cds_app, ["client", "list"]).output.endswith("\tfhir: -\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["https://nobody.example", "--fhir-server", "https://x.example"], "no client"),
        (["https://ehr.example"], "give --fhir-server"),
        (["https://ehr.example", "--fhir-server", "https://u:p@x.example"], "not a FHIR base"),
        (["https://ehr.example", "--fhir-server", "https://x.example/?a=1"], "not a FHIR base"),
        (["https://ehr.example", "--fhir-server", "ftp://x.example"], "not a FHIR base"),
    ],
)
def test_bad_updates_are_one_line_errors(db: Path, args: list[str], message: str) -> None:
    add = ["client", "add", "--issuer", "https://ehr.example", "--jku", "https://ehr.example/k"]
    assert runner.invoke(cds_app, add).exit_code == 0
    result = runner.invoke(cds_app, ["client", "update", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --jwks-file or --jku"),
        (["--jku", "http://ehr.example/jwks.json"], "not an https URL"),
        (["--jwks-file", "missing.json"], "cannot read"),
        (["--jwks-file", "private.json"], "private key"),
        (["--jwks-file", "nokid.json"], '"kid"'),
        (["--jku", "https://ehr.example/k", "--fhir-server", "http://ehr.example"], "allow-http"),
    ],
)
def test_bad_registrations_are_one_line_errors(
    db: Path, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(db)
    ehr = Ehr()
    public = ehr.jwks()["keys"][0]
    (db / "private.json").write_text(json.dumps({"keys": [{**public, "d": "secret"}]}))
    (db / "nokid.json").write_text(
        json.dumps({"keys": [{k: v for k, v in public.items() if k != "kid"}]})
    )
    result = runner.invoke(cds_app, ["client", "add", "--issuer", "https://ehr.example", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_issuer_is_registered_once(db: Path) -> None:
    args = ["client", "add", "--issuer", "https://ehr.example", "--jku", "https://ehr.example/jwks"]
    assert runner.invoke(cds_app, args).exit_code == 0
    again = runner.invoke(cds_app, args)
    assert again.exit_code == 2
    assert "already registered" in again.output
