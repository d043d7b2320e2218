"""`netlm` command line: assess cases, export schemas, inspect and check the knowledge base.

Exit codes: 0 success, 1 knowledge-base check failed, 2 bad input (one line per problem on
stderr, naming the JSON path and what is wrong; never a traceback).
"""

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from netlm.cli.admin import db_app, token_app, user_app
from netlm.cli.cds import cds_app
from netlm.cli.common import Lang, fail
from netlm.cli.fhir import fhir_app
from netlm.cli.render import render_markdown, render_text
from netlm.cli.survival import survival_app
from netlm.engine import assess
from netlm.knowledge.check import check
from netlm.knowledge.load import KnowledgeBase, KnowledgeBaseError, load_knowledge_base
from netlm.model.assessment import Assessment
from netlm.model.case import Case
from netlm.model.parse import CaseInputError, Problem, parse_case_json

app = typer.Typer(
    name="netlm",
    help="Decision support for neuroendocrine tumour liver metastases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
kb_app = typer.Typer(help="Inspect and check the knowledge base.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(db_app, name="db", help="Database migrations.")
app.add_typer(user_app, name="user", help="Local user accounts.")
app.add_typer(token_app, name="token", help="API tokens: list and revoke.")
app.add_typer(fhir_app, name="fhir", help="FHIR R4 import (Bundle -> case) and export.")
app.add_typer(cds_app, name="cds", help="CDS Hooks service: registered EHR clients.")
app.add_typer(survival_app, name="survival")


class Format(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class RegionOption(StrEnum):
    US = "US"
    EU = "EU"
    CN = "CN"


class SchemaName(StrEnum):
    case = "case"
    assessment = "assessment"


def _knowledge_base() -> KnowledgeBase:
    try:
        return load_knowledge_base()
    except KnowledgeBaseError as exc:
        raise fail(str(exc).splitlines(), 1) from None


def _read(source: str) -> str | bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    path = Path(source)
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise CaseInputError([Problem("(file)", "is a directory, not a case file")]) from None
    except OSError as exc:
        raise CaseInputError([Problem("(file)", f"cannot read: {exc.strerror}")]) from None


@app.command("assess")
def assess_command(
    cases: Annotated[
        list[str], typer.Argument(help="Case files (netlm.case/1 JSON); - for stdin.")
    ],
    output: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    lang: Annotated[
        Lang, typer.Option("--lang", help="Language of every user-facing string.")
    ] = Lang.en,
    region: Annotated[
        RegionOption | None,
        typer.Option("--region", help="Where the patient is treated (overrides the case)."),
    ] = None,
) -> None:
    """Classify each case and rank the treatment options with their evidence."""
    kb = _knowledge_base()
    results: list[Assessment] = []
    errors: list[str] = []
    for source in cases:
        try:
            case = parse_case_json(_read(source))
        except CaseInputError as exc:
            prefix = f"{source}: " if len(cases) > 1 else ""
            errors += [f"{prefix}{problem}" for problem in exc.problems]
            continue
        if region is not None:
            case = case.model_copy(update={"region": region.value})
        results.append(assess(case, lang=lang.value, kb=kb))
    if errors:
        raise fail(errors)
    if output is Format.json:
        payload: Any = [a.to_json_dict() for a in results]
        if len(results) == 1:
            payload = payload[0]
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    render = render_text if output is Format.text else render_markdown
    separator = "\n" + "=" * 100 + "\n" if output is Format.text else "\n---\n"
    typer.echo(separator.join(render(a, kb) for a in results))


@app.command("schema")
def schema_command(
    name: Annotated[SchemaName, typer.Argument(help="case or assessment")],
) -> None:
    """Print the JSON Schema of a public contract."""
    model = Case if name is SchemaName.case else Assessment
    schema = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = (
        f"https://netlm.org/schema/{'netlm.case' if model is Case else 'netlm.assessment'}/1"
    )
    typer.echo(json.dumps(schema, ensure_ascii=False, indent=2))


@kb_app.command("check")
def kb_check_command() -> None:
    """Validate the knowledge base; exit 1 with one line per problem if it is unsound."""
    kb = _knowledge_base()
    problems = check(kb)
    if problems:
        raise fail(problems, 1)
    verified = sum(1 for e in kb.evidence.values() if e.verified)
    rules = sum(
        len(o.indications) + len(o.contraindications) + len(o.cautions) for o in kb.options.values()
    )
    typer.echo(
        f"knowledge base {kb.manifest.version} ({kb.manifest.released}) OK: "
        f"{len(kb.options)} options, {rules} option rules, {len(kb.definitions)} definitions, "
        f"{len(kb.evidence)} evidence records ({verified} verified)"
    )


@kb_app.command("show")
def kb_show_command(
    item: Annotated[str, typer.Argument(help="An option code, evidence id or definition name.")],
    lang: Annotated[Lang, typer.Option("--lang")] = Lang.en,
) -> None:
    """Show one option (with its rules), evidence record or definition, as JSON."""
    kb = _knowledge_base()
    found: dict[str, Any] | None = None
    if item in kb.options:
        entry = kb.options[item]
        found = {
            "option": entry.option.model_dump(mode="json"),
            "indications": [c.rule.model_dump(mode="json") for c in entry.indications],
            "contraindications": [c.rule.model_dump(mode="json") for c in entry.contraindications],
            "cautions": [c.rule.model_dump(mode="json") for c in entry.cautions],
        }
    elif item in kb.evidence:
        found = {"evidence": kb.evidence[item].model_dump(mode="json")}
    elif item in kb.definitions:
        found = {"definition": item, "label": kb.definition_labels[item](lang.value)}
    if found is None:
        known = sorted([*kb.options, *kb.evidence, *kb.definitions])
        raise fail([f"{item}: not found; known ids: {', '.join(known)}"])
    typer.echo(json.dumps(found, ensure_ascii=False, indent=2))


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    demo: Annotated[
        bool, typer.Option(help="Migrate, load the example cases and a demo account first.")
    ] = False,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Run the tumour-board web application and API (docs at /docs)."""
    # Imported here so that `netlm assess` does not pay for the web stack at start-up.
    import uvicorn

    from netlm.settings import Settings
    from netlm.web.app import create_app

    settings = Settings.from_env()
    if demo:
        from netlm.web.demo import prepare

        app_ = create_app(settings)
        user, password = prepare(
            settings, app_.state.store, app_.state.board, Path("examples").resolve()
        )
        typer.echo(f"netlm is starting on http://{host}:{port}/")
        typer.echo(f"  log in as: {user}   password: {password}   (role: clinician)")
        typer.echo(f"  database:  {settings.database_url}")
    if workers > 1:
        uvicorn.run(
            "netlm.web.asgi:app", host=host, port=port, workers=workers, log_level="warning"
        )
    else:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def main() -> None:
    app()
