"""Medicine codes: ATC, RxNorm ingredients and products, names, and how drugs make options."""

from typing import Final, NamedTuple

from netlm.model.codes import OptionCode, TherapyOutcome

# ATC (code search: BfArM ATC code-system extracts and several drug tables agree).
ATC_DRUGS: Final[dict[str, str]] = {
    "H01CB02": "octreotide",
    "H01CB03": "lanreotide",
    "L01EG02": "everolimus",
    "L01XE10": "everolimus",  # ATC before the 2021 revision
    "L01EX01": "sunitinib",
    "L01XE04": "sunitinib",  # ATC before the 2021 revision
    "L01EX07": "cabozantinib",
    "V10XX04": "lutetium_177lu_oxodotreotide",
    "L01BC06": "capecitabine",
    "L01AX03": "temozolomide",
    "L01AD04": "streptozocin",
    "L01XA01": "cisplatin",
    "L01XA02": "carboplatin",
    "L01CB01": "etoposide",
}

# RxNorm ingredients (code search: a PharmGKB drug table, "RxNorm:<rxcui> <name> ... <ATC>").
RXNORM_INGREDIENTS: Final[dict[str, str]] = {
    "194000": "capecitabine",
    "357977": "sunitinib",
    "2555": "cisplatin",
    "40048": "carboplatin",
    "4179": "etoposide",
}


class ProductRecord(NamedTuple):
    """One openFDA NDC record: the RxCUIs it lists in `openfda.rxcui`, all of one drug."""

    drug: str
    product: str
    url: str
    rxcuis: tuple[str, ...]


def _ndc(drug: str, product: str, query: str, *rxcuis: str) -> ProductRecord:
    return ProductRecord(drug, product, f"https://api.fda.gov/drug/ndc.json?search={query}", rxcuis)


# RxNorm clinical and branded drugs (SCD, SBD), as listed by openFDA for each product record
# (its URL as read). Only oncology strengths of everolimus are listed: the transplant strengths
# (0.25-1 mg) are another medicine. Cabozantinib and streptozocin records showed no RxCUIs in
# what the search returned, so they are not here.
RXNORM_PRODUCTS: Final[tuple[ProductRecord, ...]] = (
    _ndc("octreotide", "Sandostatin LAR Depot", "packaging.package_ndc%3A%220078-0818-81%22",
         "898589", "898591", "898601", "898603", "898605", "898607"),
    _ndc("octreotide", "Sandostatin", "product_ndc%3A%220078-0182%22",
         "207194", "207198", "207200", "312068", "312069", "312070"),
    _ndc("octreotide", "octreotide (Hikma)", "product_ndc%3A%220641-6177%22",
         "312068", "312069", "312070", "312071", "314152"),
    _ndc("octreotide", "octreotide (Mylan)", "product_ndc%3A%2267457-245%22",
         "1090558", "1090559", "1090560"),
    _ndc("lanreotide", "Somatuline Depot", "product_ndc%3A%2215054-1060%22",
         "749811", "749813", "749814", "749816", "749817", "749818"),
    _ndc("everolimus", "everolimus 10 mg (Hikma)", "packaging.package_ndc%3A%220054-0482-13%22",
         "845507", "845515", "998189", "1119400"),
    _ndc("everolimus", "Afinitor Disperz", "product_ndc%3A%220078-0627%22",
         "845507", "845512", "845515", "845518", "998189", "998191", "1119400"),
    _ndc("sunitinib", "Sutent", "packaging.package_ndc%3A%220069-0550-38%22",
         "616279", "616283", "616285", "616287", "616289", "616292", "1541890", "1541928"),
    _ndc("lutetium_177lu_oxodotreotide", "Lutathera", "product_ndc%3A%2269488-003%22",
         "1999682", "1999687"),
    _ndc("capecitabine", "capecitabine (Teva)", "packaging.package_ndc%3A%220093-7473-06%22",
         "200327", "200328"),
    _ndc("temozolomide", "temozolomide (Accord)", "product_ndc%3A%2216729-051%22",
         "313209", "313210", "313211", "317160", "700883", "700885"),
    _ndc("temozolomide", "Temodar", "product_ndc%3A%220085-1417%22",
         "261288", "261289", "261290", "261291", "705617", "705619"),
    _ndc("cisplatin", "cisplatin (Teva)", "product_ndc%3A%220703-5747%22", "309311"),
    _ndc("cisplatin", "cisplatin powder (WG Critical Care)",
         "packaging.package_ndc%3A%2244567-530-01%22", "1736854"),
    _ndc("carboplatin", "carboplatin (Fresenius)", "packaging.package_ndc%3A%2263323-172-60%22",
         "597195"),
    _ndc("etoposide", "etoposide (Hikma)", "product_ndc%3A%220143-9376%22", "310248"),
    _ndc("etoposide", "VePesid capsules", "packaging.package_ndc%3A%2269238-2811-2%22",
         "105592", "197687"),
)  # fmt: skip

RXNORM_DRUGS: Final[dict[str, str]] = {
    **RXNORM_INGREDIENTS,
    **{rxcui: record.drug for record in RXNORM_PRODUCTS for rxcui in record.rxcuis},
}

# Free-text names, used only when a medication carries no coding at all.
DRUG_NAMES: Final[dict[str, str]] = {
    "octreotide": "octreotide",
    "sandostatin": "octreotide",
    "lanreotide": "lanreotide",
    "somatuline": "lanreotide",
    "everolimus": "everolimus",
    "afinitor": "everolimus",
    "sunitinib": "sunitinib",
    "sutent": "sunitinib",
    "surufatinib": "surufatinib",
    "cabozantinib": "cabozantinib",
    "cabometyx": "cabozantinib",
    "lutathera": "lutetium_177lu_oxodotreotide",
    "lutetium": "lutetium_177lu_oxodotreotide",  # not "dotatate": Ga-68 DOTATATE is imaging
    "177lu": "lutetium_177lu_oxodotreotide",
    "oxodotreotide": "lutetium_177lu_oxodotreotide",
    "capecitabine": "capecitabine",
    "temozolomide": "temozolomide",
    "streptozocin": "streptozocin",
    "streptozotocin": "streptozocin",
    "cisplatin": "cisplatin",
    "carboplatin": "carboplatin",
    "etoposide": "etoposide",
}
SINGLE_DRUG_OPTIONS: Final[dict[str, OptionCode]] = {
    "octreotide": "ssa",
    "lanreotide": "ssa",
    "everolimus": "everolimus",
    "sunitinib": "sunitinib",
    "surufatinib": "surufatinib",
    "cabozantinib": "cabozantinib",
    "lutetium_177lu_oxodotreotide": "prrt",
    "streptozocin": "streptozocin_chemotherapy",
}
# Regimens: every group must have a member for the option to be recorded.
REGIMENS: Final[dict[OptionCode, tuple[frozenset[str], ...]]] = {
    "captem": (frozenset({"capecitabine"}), frozenset({"temozolomide"})),
    "platinum_etoposide": (frozenset({"cisplatin", "carboplatin"}), frozenset({"etoposide"})),
}
THERAPY_OUTCOMES: Final = ("progression", "intolerance")

# Why a treatment stopped: mCODE TreatmentTerminationReasonVS (SNOMED CT), read at
# https://hl7.org/fhir/us/mcode/STU2.1/ValueSet-mcode-treatment-termination-reason-vs.html and
# https://www.hl7.org/fhir/us/mcode/STU4/ValueSet-mcode-treatment-termination-reason-vs.xml.html.
# Only the codes that say one of netlm's outcomes are read.
TERMINATION_OUTCOMES: Final[dict[str, TherapyOutcome]] = {
    "407563006": "intolerance",  # Treatment not tolerated (situation)
    "182992009": "completed",  # Treatment completed (situation)
}
# Codes of that value set that say no outcome netlm records (reported with the reason).
TERMINATION_NOT_READ: Final[dict[str, str]] = {
    "266721009": "no response to treatment, which is not progression (stable disease is the aim "
    "of a somatostatin analogue)",
    "160932005": "a financial problem",
    "105480006": "refusal by the patient",
    "184081006": "the patient moved away",
}
# Stop reasons given as text only (no coding): word -> outcome.
STOP_WORDS: Final[tuple[tuple[str, TherapyOutcome], ...]] = (
    ("progression", "progression"),
    ("progressive", "progression"),
    ("progressed", "progression"),
    ("intolerance", "intolerance"),
    ("not tolerated", "intolerance"),
    ("toxicity", "intolerance"),
)
# MedicationRequest intents that are not a therapy the patient had (FHIR R4 RequestIntent).
NOT_THERAPY_INTENTS: Final = frozenset({"proposal", "plan", "option"})
