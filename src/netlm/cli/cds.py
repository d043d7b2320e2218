"""`netlm cds client add|list`: register the EHRs allowed to call the CDS Hooks service.

A client is the `iss` of its JWTs plus where its public keys come from: a JWK Set file stored
at registration, and/or `jku` URLs the service may fetch keys from (only those URLs).
"""

import json
from pathlib import Path
from typing import Annotated

import typer

from netlm.cli.admin import _errors_as_one_line, _store

cds_app = typer.Typer(
    help="CDS Hooks service: the EHR clients allowed to call it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
client_app = typer.Typer(
    help="Register and list EHR clients.", no_args_is_help=True, pretty_exceptions_enable=False
)
cds_app.add_typer(client_app, name="client")


@client_app.command("add")
def client_add(
    issuer: Annotated[str, typer.Option(help="The iss claim of the EHR's JWTs.")],
    jwks_file: Annotated[
        Path | None, typer.Option(help="A JWK Set (JSON) with the EHR's public keys.")
    ] = None,
    jku: Annotated[
        list[str] | None,
        typer.Option(help="A JWK Set URL the EHR may name in its JWTs (repeatable)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name for people; default the issuer.")] = None,
) -> None:
    """Register an EHR client; give --jwks-file, --jku or both."""
    from netlm.fhir.cds.jwt import check_key_url, validate_jwks
    from netlm.fhir.cds.store import CdsStore

    with _errors_as_one_line():
        jwks = None
        if jwks_file is not None:
            try:
                jwks = validate_jwks(json.loads(jwks_file.read_text(encoding="utf-8")))
            except OSError as exc:
                raise ValueError(f"cannot read {jwks_file}: {exc.strerror}") from None
            except json.JSONDecodeError as exc:
                raise ValueError(f"{jwks_file} is not JSON: {exc}") from None
        urls = list(dict.fromkeys(jku or []))
        for url in urls:
            check_key_url(url)
        if jwks is None and not urls:
            raise ValueError("give --jwks-file or --jku")
        with _store() as store:
            client = CdsStore(store.engine).add_client(issuer, name or issuer, jwks, urls)
    keys = len(jwks["keys"]) if jwks else 0
    typer.echo(f"registered {client.issuer} ({keys} stored key(s), {len(urls)} jku URL(s))")


@client_app.command("list")
def client_list() -> None:
    """List registered clients: issuer, name, stored keys and allowed jku URLs."""
    from netlm.fhir.cds.store import CdsStore

    with _errors_as_one_line(), _store() as store:
        clients = CdsStore(store.engine).list_clients()
    for client in clients:
        kids = ", ".join(k["kid"] for k in client.jwks["keys"]) if client.jwks else "-"
        urls = ", ".join(client.jku_urls) or "-"
        typer.echo(f"{client.issuer}\t{client.name}\tkids: {kids}\tjku: {urls}")
