"""`netlm fhir`: a FHIR R4 Bundle in as a case, an assessment out as a FHIR Bundle.

Same conventions as the rest of the command line: results on stdout, one line per problem on
stderr, exit 2 for bad input and never a traceback.
"""

import datetime as dt
import json
from typing import Annotated, Any

import typer

from netlm.cli.common import Lang, SourceError, fail, read_source, source_name
from netlm.engine import assess
from netlm.fhir.export import assessment_to_bundle
from netlm.fhir.mapping import FhirMappingError, bundle_to_case
from netlm.knowledge.load import KnowledgeBaseError, load_knowledge_base
from netlm.model.case import Case
from netlm.model.parse import CaseInputError, load_json, parse_case_json

fhir_app = typer.Typer(
    help="FHIR R4: import a Bundle as a netlm.case/1, export an assessment as a Bundle.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _read(source: str) -> bytes:
    try:
        return read_source(source)
    except SourceError as exc:
        raise fail([str(exc)]) from None


def _json(raw: bytes, source: str) -> Any:
    try:
        return load_json(raw)
    except CaseInputError as exc:
        raise fail([f"{source_name(source)}: {p}" for p in exc.problems]) from None


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _tidy(case: dict[str, Any]) -> dict[str, Any]:
    """The case as a person would write it: 71, not 71.0 (the same JSON number), and no empty
    optional section ({} says nothing a reader needs to see); a required section stays, even
    empty, so the output is a case `netlm assess` reads."""

    def whole(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {k: whole(v) for k, v in value.items()}
        if isinstance(value, list):
            return [whole(v) for v in value]
        return value

    optional = {name for name, field in Case.model_fields.items() if not field.is_required()}
    return {k: whole(v) for k, v in case.items() if v != {} or k not in optional}


@fhir_app.command("import")
def import_command(
    bundle: Annotated[str, typer.Argument(help="FHIR R4 Bundle (JSON); - for stdin.")],
    patient: Annotated[
        str | None, typer.Option("--patient", help="Patient id, when the Bundle holds several.")
    ] = None,
    date: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Assess the chart as it stood on this date (YYYY-MM-DD; today): ages at it, "
            "and resources dated after it left out and listed.",
        ),
    ] = None,
) -> None:
    """Print the netlm.case/1 a Bundle maps to; what could not be mapped goes to stderr.

    Values found only in report text are listed on stderr as proposals to confirm: they are
    never in the printed case.
    """
    try:
        on = dt.date.fromisoformat(date) if date else dt.date.today()
    except ValueError:
        raise fail([f"--date: must be YYYY-MM-DD, got {date!r}"]) from None
    data = _json(_read(bundle), bundle)
    try:
        result = bundle_to_case(data, patient_id=patient, on=on)
    except FhirMappingError as exc:
        raise fail([f"{source_name(bundle)}: {p}" for p in exc.problems]) from None
    _print(_tidy(result.case.to_json_dict()))
    for item in result.unmapped:
        typer.echo(f"unmapped: {item.field}: {item.reason}", err=True)
    for p in result.proposals:
        bound = p.comparator or ""
        held = "" if p.in_case is None else f" (the case holds {p.in_case})"
        typer.echo(
            f"proposal (from the report text, not in the case: confirm): {p.field} = "
            f"{bound}{p.value}{held}, {p.source}: {p.quote!r}",
            err=True,
        )


@fhir_app.command("export")
def export_command(
    case: Annotated[str, typer.Argument(help="Case file (netlm.case/1 JSON); - for stdin.")],
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the texts.")] = Lang.en,
    patient_reference: Annotated[
        str | None,
        typer.Option("--patient-reference", help="Subject of the resources (Patient/<case id>)."),
    ] = None,
) -> None:
    """Assess a case and print the assessment as a FHIR R4 Bundle."""
    try:
        parsed = parse_case_json(_read(case))
    except CaseInputError as exc:
        raise fail([f"{source_name(case)}: {p}" for p in exc.problems]) from None
    try:
        kb = load_knowledge_base()
    except KnowledgeBaseError as exc:
        raise fail(str(exc).splitlines(), 1) from None
    result = assess(parsed, lang=lang.value, kb=kb)
    reference = patient_reference or f"Patient/{parsed.id}"
    _print(assessment_to_bundle(result, patient_reference=reference, case=parsed, kb=kb))
