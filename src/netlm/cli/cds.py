"""`netlm cds client add|update|list`: register the EHRs allowed to call the CDS Hooks service.

A client is the `iss` of its JWTs plus where its public keys come from: a JWK Set file stored
at registration, and/or `jku` URLs the service may fetch keys from (only those URLs). Its
`--fhir-server` base URLs are the only places netlm reads missing prefetch from on its behalf;
they must be https unless `--allow-http` is given (development only: the flag is not stored,
but an http base can only have been registered with it).
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
    help="Register, update and list EHR clients.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
FhirServers = Annotated[
    list[str] | None,
    typer.Option(
        "--fhir-server",
        help="A FHIR base URL netlm may read the patient's data from (repeatable).",
    ),
]
AllowHttp = Annotated[
    bool,
    typer.Option("--allow-http", help="Accept plain http FHIR servers (development only)."),
]
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
    fhir_server: FhirServers = None,
    allow_http: AllowHttp = False,
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
            client = CdsStore(store.engine).add_client(
                issuer,
                name or issuer,
                jwks,
                urls,
                fhir_servers=fhir_server or [],
                allow_http=allow_http,
            )
    keys = len(jwks["keys"]) if jwks else 0
    typer.echo(
        f"registered {client.issuer} ({keys} stored key(s), {len(urls)} jku URL(s), "
        f"{len(client.fhir_servers)} FHIR server(s))"
    )


@client_app.command("update")
def client_update(
    issuer: Annotated[str, typer.Argument(help="The registered issuer.")],
    fhir_server: FhirServers = None,
    allow_http: AllowHttp = False,
    no_fhir_server: Annotated[
        bool,
        typer.Option(
            "--no-fhir-server", help="Remove every FHIR server: netlm then reads none for it."
        ),
    ] = False,
) -> None:
    """Replace the FHIR servers netlm may read for a client."""
    from netlm.fhir.cds.store import CdsStore

    with _errors_as_one_line():
        if bool(fhir_server) == no_fhir_server:
            raise ValueError("give --fhir-server (repeatable) or --no-fhir-server")
        with _store() as store:
            client = CdsStore(store.engine).set_fhir_servers(issuer, fhir_server or [], allow_http)
    servers = ", ".join(client.fhir_servers) or "none"
    typer.echo(f"updated {client.issuer}: FHIR servers {servers}")


@client_app.command("list")
def client_list() -> None:
    """List registered clients: issuer, name, stored keys, jku URLs and FHIR servers."""
    from netlm.fhir.cds.store import CdsStore

    with _errors_as_one_line(), _store() as store:
        clients = CdsStore(store.engine).list_clients()
    for client in clients:
        kids = ", ".join(k["kid"] for k in client.jwks["keys"]) if client.jwks else "-"
        urls = ", ".join(client.jku_urls) or "-"
        servers = ", ".join(client.fhir_servers) or "-"
        typer.echo(f"{client.issuer}\t{client.name}\tkids: {kids}\tjku: {urls}\tfhir: {servers}")
