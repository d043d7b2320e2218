"""What every `netlm` command shares: the exit code for bad input, how problems are reported,
how input files are read, and help text that names values instead of Python types."""

import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.cells import cell_len
from rich.table import Table
from typer._click import Command, Context
from typer.core import TyperArgument, TyperGroup, TyperOption

BAD_INPUT = 2
STDIN = "-"


class Lang(StrEnum):
    en = "en"
    zh = "zh"


def fail(lines: list[str], code: int = BAD_INPUT) -> typer.Exit:
    """Print one line per problem on stderr; raise the returned Exit (never a traceback)."""
    for line in lines:
        typer.echo(line, err=True)
    return typer.Exit(code)


class SourceError(Exception):
    """An input file that cannot be read; the message starts with the file's name."""


def source_name(source: str) -> str:
    return "(stdin)" if source == STDIN else source


def read_source(source: str) -> bytes:
    """The bytes of a file argument (`-` is stdin); a problem names the file."""
    if source == STDIN:
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(source).read_bytes()
        except IsADirectoryError:
            raise SourceError(f"{source}: is a directory, not a JSON file") from None
        except OSError as exc:
            raise SourceError(f"{source}: cannot read: {exc.strerror}") from None
    if not data.strip():  # said as such: "malformed JSON at line 1" would send one hunting
        raise SourceError(f"{source_name(source)}: is empty (expected a JSON document)")
    return data


def _choices(param: TyperOption | TyperArgument, ctx: Context) -> str | None:
    """`[text|json|markdown]` for an enum parameter (Typer's own list, in brackets)."""
    if not param.type_descriptor.is_choice:
        return None
    return "[" + param.display_type(ctx).strip("<>") + "]"


class _PlainOption(TyperOption):
    """Help shows `--port PORT` and the choices of an enum, not `<int>` or `<bool>`."""

    def display_type_rich(self, ctx: Context) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar is not None:
            return self.metavar
        return _choices(self, ctx) or (self.name or "value").upper()


class _PlainArgument(TyperArgument):
    """Help shows `CASE...` and `[NAME]`, not `{cases}...` and `<list[str]>`."""

    def display_type_rich(self, ctx: Context) -> str | None:
        return _choices(self, ctx)

    def _name(self) -> str:
        return self.metavar or (self.name or "value").upper()

    def _rich_display_name(self) -> str:
        return self._name() + ("..." if self.nargs != 1 else "")

    def _usage_display_name(self) -> str:
        name = self._rich_display_name()
        return name if self.required else f"[{name}]"


def plain_help(command: Command) -> None:
    """Give every parameter of the command tree a help display a reader understands.

    Typer prints each parameter's Python type (`<bool>`, `<list[str]>`) and braces around
    required arguments; `tests/test_cli.py` checks that no such placeholder is left.
    """
    help_option = command.get_help_option(Context(command))  # created once, then cached
    for param in [*command.params, *([help_option] if help_option else [])]:
        if type(param) is TyperOption:
            param.__class__ = _PlainOption
        elif type(param) is TyperArgument:
            param.__class__ = _PlainArgument
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            plain_help(sub)


def word_table(
    title: str, headers: list[str], rows: list[list[str]], width: int, breaks: str = ""
) -> Table:
    """A rich table that wraps its cells at spaces rather than cut a word ("recommen…"): when
    the cells on one line would not fit `width`, each column is as wide as its longest word,
    and a label (first column) may also break after a character in `breaks` (e.g. after "."
    and "=" in `primary.site=rectum`)."""
    natural = sum(max(map(len, column)) for column in zip(headers, *rows, strict=True))
    narrow = natural + 3 * len(headers) + 1 > width
    if narrow:
        for mark in breaks:
            rows = [[row[0].replace(mark, mark + "\n"), *row[1:]] for row in rows]
    table = Table(title=title)
    for i, column in enumerate(zip(headers, *rows, strict=True)):
        longest_word = max(len(w) for text in column for w in text.split() or [""])
        table.add_column(
            column[0],
            justify="left" if i == 0 else "right",
            width=longest_word if narrow else None,
        )
    for row in rows:
        table.add_row(*row)
    return table


def pad(text: str, width: int) -> str:
    """`text` padded to `width` terminal cells: a Chinese character takes two, so `ljust`
    (which counts characters) misaligns Chinese columns."""
    return text + " " * max(0, width - cell_len(text))
