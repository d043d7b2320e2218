"""What every `netlm` command shares: the exit code for bad input and how problems are reported."""

from enum import StrEnum

import typer

BAD_INPUT = 2


class Lang(StrEnum):
    en = "en"
    zh = "zh"


def fail(lines: list[str], code: int = BAD_INPUT) -> typer.Exit:
    """Print one line per problem on stderr; raise the returned Exit (never a traceback)."""
    for line in lines:
        typer.echo(line, err=True)
    return typer.Exit(code)
