"""`netlm` command line: assess cases, export schemas, inspect and check the knowledge base.

Exit codes: 0 success, 1 knowledge-base check failed, 2 bad input (one line per problem on
stderr, naming the file, the JSON path and what is wrong; never a traceback).
"""

import json
from enum import StrEnum
from typing import Annotated, Any

import typer
import typer.main
from rich.cells import cell_len

import netlm
from netlm.cli.admin import db_app, token_app, user_app
from netlm.cli.audit import audit_app
from netlm.cli.cds import cds_app
from netlm.cli.common import Lang, SourceError, fail, pad, plain_help, read_source, source_name
from netlm.cli.fhir import fhir_app
from netlm.cli.kb import impact_command, release_command
from netlm.cli.registry import registry_app
from netlm.cli.render import render_markdown, render_text
from netlm.cli.serve import serve_command
from netlm.cli.survival import survival_app
from netlm.engine import assess
from netlm.knowledge.check import check
from netlm.knowledge.load import KnowledgeBase, KnowledgeBaseError, load_knowledge_base
from netlm.model.assessment import Assessment
from netlm.model.case import Case
from netlm.model.parse import CaseInputError, parse_case_json

app = typer.Typer(
    name="netlm",
    help="Decision support for neuroendocrine tumour liver metastases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
kb_app = typer.Typer(
    help="Inspect and check the knowledge base; archive a release and see what a change does.",
    no_args_is_help=True,
)
app.add_typer(kb_app, name="kb")
kb_app.command("impact")(impact_command)
kb_app.command("release")(release_command)
app.add_typer(db_app, name="db", help="Database migrations.")
app.add_typer(user_app, name="user", help="Local user accounts.")
app.add_typer(token_app, name="token", help="API tokens: list and revoke.")
app.add_typer(audit_app, name="audit", help="Audit trail: verify the hash chain, export.")
app.add_typer(fhir_app, name="fhir", help="FHIR R4 import (Bundle -> case) and export.")
app.add_typer(cds_app, name="cds", help="CDS Hooks service: registered EHR clients.")
app.add_typer(registry_app, name="registry", help="Registry analytics: synth, assess, audit.")
app.add_typer(survival_app, name="survival")
app.command("serve")(serve_command)


def _print_version(value: bool) -> None:
    if not value:
        return
    kb = _knowledge_base()
    typer.echo(
        f"netlm {netlm.__version__} "
        f"(knowledge base {kb.manifest.version}, released {kb.manifest.released})"
    )
    raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the netlm and knowledge-base versions and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    """Decision support for neuroendocrine tumour liver metastases."""


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
    registry = "registry"


def _knowledge_base() -> KnowledgeBase:
    try:
        return load_knowledge_base()
    except KnowledgeBaseError as exc:
        raise fail(str(exc).splitlines(), 1) from None


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
    """Classify each case and rank the treatment options with their evidence.

    Each good file is assessed and printed; each bad one is reported on stderr (file, field and
    problem), and the exit code is then 2.
    """
    kb = _knowledge_base()
    results: list[Assessment] = []
    errors: list[str] = []
    for source in cases:
        try:
            case = parse_case_json(read_source(source))
        except SourceError as exc:
            errors.append(str(exc))
            continue
        except CaseInputError as exc:
            errors += [f"{source_name(source)}: {problem}" for problem in exc.problems]
            continue
        if region is not None:
            case = case.model_copy(update={"region": region.value})
        results.append(assess(case, lang=lang.value, kb=kb))
    if results:
        _print_assessments(results, output, kb, single=len(cases) == 1)
    if errors:
        raise fail(errors)


def _print_assessments(
    results: list[Assessment], output: Format, kb: KnowledgeBase, *, single: bool
) -> None:
    if output is Format.json:
        payload: Any = [a.to_json_dict() for a in results]
        typer.echo(json.dumps(payload[0] if single else payload, ensure_ascii=False, indent=2))
        return
    render = render_text if output is Format.text else render_markdown
    separator = "\n" + "=" * 100 + "\n" if output is Format.text else "\n---\n"
    typer.echo(separator.join(render(a, kb) for a in results))


@app.command("schema")
def schema_command(
    name: Annotated[SchemaName, typer.Argument(help="case, assessment or registry")],
) -> None:
    """Print the JSON Schema of a public contract."""
    if name is SchemaName.registry:
        from netlm.registry.format import registry_json_schema

        typer.echo(json.dumps(registry_json_schema(), ensure_ascii=False, indent=2))
        return
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
    item: Annotated[
        str | None,
        typer.Argument(
            metavar="ID", help="An option code, evidence id or definition name; none: list them."
        ),
    ] = None,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of names and labels.")] = Lang.en,
) -> None:
    """Show one option (with its rules), evidence record or definition, as JSON; without an ID,
    list every ID that can be shown."""
    kb = _knowledge_base()
    if item is None:
        typer.echo(_catalogue(kb, lang.value))
        return
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
        raise fail([f"{item}: not found; `netlm kb show` without an ID lists every ID"])
    typer.echo(json.dumps(found, ensure_ascii=False, indent=2))


def _catalogue(kb: KnowledgeBase, lang: str) -> str:
    """Every showable ID, grouped, each with its name: what `kb show ID` accepts."""
    sections = [
        ("Options", [(code, e.option.name(lang)) for code, e in kb.options.items()]),
        ("Evidence", [(key, f"{e.short_name}: {e.title}") for key, e in kb.evidence.items()]),
        ("Definitions", [(key, kb.definition_labels[key](lang)) for key in kb.definitions]),
    ]
    lines: list[str] = []
    for heading, rows in sections:
        width = max(cell_len(key) for key, _ in rows)
        lines += [f"{heading} ({len(rows)}):"]
        lines += [f"  {pad(key, width)}  {title}".rstrip() for key, title in sorted(rows)]
        lines.append("")
    return "\n".join(lines).rstrip()


def main() -> None:
    command = typer.main.get_command(app)
    plain_help(command)
    command(prog_name="netlm")
