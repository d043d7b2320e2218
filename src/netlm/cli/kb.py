"""`netlm kb impact` and `netlm kb release`: what a knowledge-base change does to patients, and
the archive of each release that the comparison is made against."""

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from netlm.cli.common import fail
from netlm.cli.registry import (
    ConfOption,
    EngineName,
    EngineOption,
    MasterOption,
    _engine,
)
from netlm.knowledge.releases import (
    BaseError,
    Version,
    locate_folder,
    open_version,
    write_release,
)

SYNTHETIC = "synthetic"


@contextmanager
def _registry(spec: str) -> Iterator[tuple[Path, str]]:
    """The registry file and its description; `synthetic` is made in a temporary folder."""
    if spec != SYNTHETIC:
        yield Path(spec), f"registry {Path(spec).name}"
        return
    from netlm.registry.impact import synthetic_registry

    with tempfile.TemporaryDirectory(prefix="netlm-impact-") as folder:
        yield synthetic_registry(Path(folder))


def _open(stack: ExitStack, spec: str | None, option: str) -> Version:
    try:
        return stack.enter_context(open_version(spec))
    except BaseError as exc:
        raise fail([f"{option} {exc}"]) from None


def impact_command(
    base: Annotated[
        str,
        typer.Option(
            "--base",
            help="The version to compare with: `release` or `previous` (the newest archived "
            "release that differs from the working tree), an archived version (2.3.0), a folder "
            "(a data folder or a checkout), a .tar.gz archive, or a git ref of this checkout.",
        ),
    ] = "release",
    registry: Annotated[
        str,
        typer.Option(
            "--registry",
            help="Registry file (.parquet or .csv), or `synthetic`: `netlm registry synth`'s "
            "default registry, made in a temporary folder.",
        ),
    ] = SYNTHETIC,
    head: Annotated[
        str | None,
        typer.Option("--head", help="The changed version, named as --base (default: this one)."),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="The report as JSON (netlm.kb-impact/1).")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="The report as one self-contained HTML file.")
    ] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="As Markdown.")] = None,
    engine: EngineOption = EngineName.duckdb,
    spark_master: MasterOption = None,
    spark_conf: ConfOption = None,
    skip_bad: Annotated[
        bool,
        typer.Option("--skip-bad", help="Skip rows with bad data (their number is reported)."),
    ] = False,
) -> None:
    """Which patients of a registry a knowledge-base change moves (first tier, strength or
    exclusions), grouped by transition, with the rule changes that cause each."""
    from netlm.registry.impact import Versions, run, text_lines, write_html, write_json

    for path, option in ((json_out, "--json"), (html, "--html"), (markdown, "--markdown")):
        if path is not None and not path.parent.is_dir():
            raise fail([f"{option} {path}: folder {path.parent} does not exist"])
    if registry != SYNTHETIC and not Path(registry).is_file():
        raise fail([f"--registry {registry}: no such file (or `synthetic` for the bundled one)"])
    with ExitStack() as stack:
        old = _open(stack, base, "--base")
        new = _open(stack, head, "--head")
        versions = Versions(old.kb, new.kb, old.source, new.source)
        source, described = stack.enter_context(_registry(registry))
        opened = stack.enter_context(_engine(source, engine, spark_master, spark_conf))
        impact = run(opened, versions, described, skip_bad)  # bad data: _engine says which
    if json_out is not None:
        write_json(impact, json_out)
    if html is not None:
        write_html(impact, html)
    if markdown is not None:
        markdown.write_text("\n".join(text_lines(impact, markdown=True)) + "\n", encoding="utf-8")
    console = Console(soft_wrap=True, highlight=False)
    for line in text_lines(impact):
        console.print(line, markup=False)


def release_command(
    source: Annotated[
        str | None,
        typer.Option("--from", help="Archive this version instead (named as impact's --base)."),
    ] = None,
) -> None:
    """Archive the knowledge base as released (src/netlm/knowledge/releases/VERSION.tar.gz), the
    base `netlm kb impact --base release` compares with. A release never changes: archiving a
    version again with other content is refused."""
    try:
        with locate_folder(source) as (folder, described):
            target, new = write_release(folder, described)
    except BaseError as exc:
        raise fail([str(exc)]) from None
    typer.echo(f"{'archived' if new else 'already archived, unchanged:'} {target}")
