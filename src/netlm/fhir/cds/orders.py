"""Draft orders on order-select: which catalogue option a MedicationRequest or ServiceRequest
orders, by code first and by name only when it carries no code netlm reads."""

from collections.abc import Mapping
from typing import Any, cast

from pydantic import ValidationError

from netlm.fhir import codes
from netlm.fhir.cds.errors import CdsFailure
from netlm.fhir.cds.models import CodeableConcept, DraftOrder, OrderSelectContext, describe
from netlm.fhir.mapping.elements import has_word
from netlm.model.codes import OPTION_CODES, OptionCode

# Order words the FHIR mapping does not need (it reads past treatments, not orders).
ORDER_WORDS: tuple[tuple[str, OptionCode], ...] = (
    *codes.PROCEDURE_WORDS,
    ("peptide receptor radionuclide", "prrt"),
    ("prrt", "prrt"),
    ("liver transplant", "liver_transplant_evaluation"),
)
# Diagnostic SSTR tracers share the dotatate/dotatoc names with the therapeutic PRRT drug.
DIAGNOSTIC_WORDS = ("gallium", "ga-68", "ga 68", "68ga", "netspot", "copper", "cu-64", "64cu")


def _texts(concept: CodeableConcept | None) -> list[str]:
    if concept is None:
        return []
    texts = [concept.text, *(c.display for c in concept.coding)]
    return [t.lower() for t in texts if t]


def _drug_option(concept: CodeableConcept | None) -> OptionCode | None:
    """The netlm option a medication belongs to: by ATC or RxNorm code, else by name."""
    drugs: set[str] = set()
    for coding in concept.coding if concept is not None else []:
        code = coding.code
        if code is None:
            continue
        if coding.system == codes.NETLM_OPTION and code in OPTION_CODES:
            return cast(OptionCode, code)
        if coding.system == codes.ATC and code in codes.ATC_DRUGS:
            drugs.add(codes.ATC_DRUGS[code])
        elif coding.system == codes.RXNORM and code in codes.RXNORM_DRUGS:
            drugs.add(codes.RXNORM_DRUGS[code])
    texts = _texts(concept)
    if not drugs:
        for text in texts:
            drugs |= {d for word, d in codes.DRUG_NAMES.items() if has_word(text, word)}
    if any(has_word(t, w) for t in texts for w in DIAGNOSTIC_WORDS):
        drugs.discard("lutetium_177lu_oxodotreotide")
    for drug in sorted(drugs):
        if drug in codes.SINGLE_DRUG_OPTIONS:
            return codes.SINGLE_DRUG_OPTIONS[drug]
        for option, groups in codes.REGIMENS.items():
            if any(drug in group for group in groups):
                return option  # one drug of a regimen stands for the regimen being started
    return None


def _medication_concept(order: DraftOrder) -> CodeableConcept | None:
    if order.medication_codeable_concept is not None:
        return order.medication_codeable_concept
    reference = order.medication_reference
    if reference is None:
        return None
    target = reference.reference
    if target is not None and target.startswith("#"):
        for contained in order.contained:
            if contained.id == target[1:]:
                return contained.code
    return None if reference.display is None else CodeableConcept(text=reference.display)


def order_option(order: DraftOrder) -> OptionCode | None:
    """The netlm option a draft MedicationRequest or ServiceRequest orders, if netlm knows it."""
    if order.resource_type == "MedicationRequest":
        return _drug_option(_medication_concept(order))
    if order.resource_type == "ServiceRequest":
        for coding in order.code.coding if order.code is not None else []:
            if coding.system == codes.NETLM_OPTION and coding.code in OPTION_CODES:
                return cast(OptionCode, coding.code)
        texts = _texts(order.code)
        if any(has_word(t, w) for t in texts for w in DIAGNOSTIC_WORDS):
            return None
        for text in texts:
            for word, option in ORDER_WORDS:
                if has_word(text, word):
                    return option
    return None


def selected_orders(context: Mapping[str, Any]) -> list[DraftOrder]:
    """The draft orders the clinician selected; a 400 naming the element when one is malformed."""
    try:
        parsed = OrderSelectContext.model_validate(context)
    except ValidationError as exc:
        raise CdsFailure(400, "invalid", describe(exc, "context")) from None
    orders = [entry.resource for entry in parsed.draft_orders.entry]
    if parsed.selections is None:
        return orders  # tolerate a client that omits selections: every draft order is new
    chosen = set(parsed.selections)
    return [o for o in orders if o.id is not None and f"{o.resource_type}/{o.id}" in chosen]
