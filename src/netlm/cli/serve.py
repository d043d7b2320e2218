"""`netlm serve`: the tumour-board web application and API.

The port is checked before anything is printed or prepared, so a port in use is one clear line
(and exit 2) instead of "starting" followed by a traceback from the server.
"""

import errno
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from netlm.cli.common import fail


def port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port, or None when it can.

    Binds the way uvicorn does (SO_REUSEADDR, so a port left in TIME_WAIT counts as free).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"--host {host}: not an address of this machine ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is already in use by another program; "
                    f"choose another with --port (with make: make run PORT={port + 1})"
                )
            if exc.errno == errno.EACCES:
                return f"port {port} needs privileges this user lacks; choose one above 1023"
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"--host {host}: not an address of this machine"
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


# The server itself bounds what it reads before the app sees a request: h11 refuses a request
# line plus headers over MAX_REQUEST_HEAD_BYTES (httptools, uvicorn's faster parser, reads
# headers of any size), and no `Server:` banner tells a scanner what to try.
MAX_REQUEST_HEAD_BYTES = 32 * 1024
SERVER_LIMITS: dict[str, Any] = {
    "http": "h11",
    "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
    "server_header": False,
}


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    demo: Annotated[
        bool, typer.Option(help="Migrate, load the example cases and a demo account first.")
    ] = False,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
) -> None:
    """Run the tumour-board web application and API (docs at /docs)."""
    problem = port_problem(host, port)
    if problem:
        raise fail([problem])
    # Imported here so that `netlm assess` does not pay for the web stack at start-up.
    import uvicorn

    from netlm.settings import Settings
    from netlm.web.app import create_app

    server = {"host": host, "port": port, **SERVER_LIMITS}
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise fail([f"settings: {exc}"]) from None
    if demo:
        from netlm.web.demo import prepare

        app_ = create_app(settings)
        user, password = prepare(
            settings, app_.state.store, app_.state.board, Path("examples").resolve()
        )
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"netlm is starting on http://{shown}:{port}/")
        typer.echo(f"  log in as: {user}   password: {password}   (role: clinician)")
        typer.echo(f"  database:  {settings.database_url}")
    if workers > 1:
        uvicorn.run("netlm.web.asgi:app", workers=workers, log_level="warning", **server)
    else:
        uvicorn.run(create_app(settings), log_level="info", **server)
