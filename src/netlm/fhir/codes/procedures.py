"""Procedure codes: resections of the primary tumour's organ and pancreatoduodenectomy.

A resection names the primary sites it removes whole and those it removes only in part: a
partial resection counts as the primary's only when the Procedure's reasonReference names the
primary tumour Condition (a right hemicolectomy does not remove a sigmoid NET).
"""

from typing import Final, NamedTuple

from netlm.model.codes import OptionCode, PrimarySite

MCODE_SURGERY_VS: Final = (
    "https://hl7.org/fhir/us/mcode/STU1/ValueSet-mcode-cancer-related-surgical-procedure-vs.html"
)
CRC_OPERATION_VS: Final = (
    "https://www.hl7.org/fhir/2016May/nehta/valueset-nehta-nehta-crc-operation-type.html"
)


class Resection(NamedTuple):
    display: str
    whole: frozenset[PrimarySite]  # sites the operation always removes entirely
    part: frozenset[PrimarySite]  # sites it removes only in part
    source: str  # where the code was verified


def _r(display: str, whole: set[PrimarySite], part: set[PrimarySite], source: str) -> Resection:
    return Resection(display, frozenset(whole), frozenset(part), source)


# SNOMED CT resections of the digestive primary sites, each verified on an hl7.org value set.
PRIMARY_RESECTIONS: Final[dict[str, Resection]] = {
    # mCODE STU1 CancerRelatedSurgicalProcedureVS
    "287847009": _r("Partial pancreatectomy", set(), {"pancreas"}, MCODE_SURGERY_VS),
    "33149006": _r("Pancreatectomy", set(), {"pancreas"}, MCODE_SURGERY_VS),
    "9524002": _r("Total pancreatectomy", {"pancreas"}, set(), MCODE_SURGERY_VS),
    "69036001": _r("Total pancreaticoduodenectomy", {"pancreas"}, {"duodenum"}, MCODE_SURGERY_VS),
    "265459006": _r(
        "Pancreaticoduodenectomy with distal gastrectomy",
        set(),
        {"pancreas", "duodenum", "stomach"},
        MCODE_SURGERY_VS,
    ),
    "43075005": _r("Partial resection of colon", set(), {"colon"}, MCODE_SURGERY_VS),
    "307656000": _r(
        "Subtotal colectomy with ileosigmoid anastomosis", set(), {"colon"}, MCODE_SURGERY_VS
    ),
    "26390003": _r("Total colectomy", {"colon", "appendix"}, set(), MCODE_SURGERY_VS),
    "174059005": _r(
        "Excision of colon and rectum", {"colon", "rectum", "appendix"}, set(), MCODE_SURGERY_VS
    ),
    "307009004": _r("Wedge resection of rectum", set(), {"rectum"}, MCODE_SURGERY_VS),
    "86789002": _r("Abdominoperineal pull through procedure", set(), {"rectum"}, MCODE_SURGERY_VS),
    "235364003": _r("Total proctectomy", {"rectum"}, set(), MCODE_SURGERY_VS),
    "49209004": _r("Subtotal gastrectomy", set(), {"stomach"}, MCODE_SURGERY_VS),
    "26452005": _r("Total gastrectomy", {"stomach"}, set(), MCODE_SURGERY_VS),
    "24431004": _r(
        "Esophagoduodenostomy with complete gastrectomy", {"stomach"}, set(), MCODE_SURGERY_VS
    ),
    "287816003": _r("Radical gastrectomy", set(), {"stomach"}, MCODE_SURGERY_VS),
    "438338008": _r(
        "Total gastrectomy with extended lymphadenectomy", {"stomach"}, set(), MCODE_SURGERY_VS
    ),
    "53442002": _r("Excision of stomach structure", set(), {"stomach"}, MCODE_SURGERY_VS),
    # FHIR STU3 candidate, NEHTA ColorectalCancerOperationType value set
    "235326000": _r(
        "Right hemicolectomy", {"appendix"}, {"colon", "small_intestine"}, CRC_OPERATION_VS
    ),
    "174071004": _r(
        "Extended right hemicolectomy",
        {"appendix"},
        {"colon", "small_intestine"},
        CRC_OPERATION_VS,
    ),
    "26925005": _r("Transverse colectomy", set(), {"colon"}, CRC_OPERATION_VS),
    "82619000": _r("Left hemicolectomy", set(), {"colon"}, CRC_OPERATION_VS),
    "4558008": _r("Anterior resection", set(), {"rectum", "colon"}, CRC_OPERATION_VS),
    "265414003": _r("Abdominoperineal resection", {"rectum"}, set(), CRC_OPERATION_VS),
    "307666008": _r(
        "Total colectomy with ileorectal anastomosis",
        {"colon", "appendix"},
        set(),
        CRC_OPERATION_VS,
    ),
    # Pancreatoduodenectomy (code search: a SNOMED CT translation table, duodenum section)
    "116241004": _r(
        "Pancreaticoduodenectomy", set(), {"pancreas", "duodenum"}, "code search (see docs)"
    ),
    "116031009": _r(
        "Pylorus-sparing Whipple operation",
        set(),
        {"pancreas", "duodenum"},
        "code search (see docs)",
    ),
}

# Operations that join the bile duct to the bowel (a pancreatoduodenectomy always does).
WHIPPLE_SNOMED: Final = frozenset({"116241004", "116031009", "69036001", "265459006"})

# CPT (system http://www.ama-assn.org/go/cpt), each with its official (AMA) descriptor as
# reproduced by the coding references named. Only the resections of netlm's procedure catalogue
# whose descriptor says which organs are removed.
AAPC_WHIPPLE: Final = "https://www.aapc.com/blog/24715-excise-bad-whipple-procedure-coding/"
CODING_AHEAD: Final = "https://webhooks.codingahead.com/cpt/codes/"
CPT_RESECTIONS: Final[dict[str, Resection]] = {
    # Pancreatectomy, proximal subtotal with total duodenectomy, partial gastrectomy,
    # choledochoenterostomy and gastrojejunostomy (Whipple-type procedure); with (48150) or
    # without (48152) pancreatojejunostomy
    "48150": _r("Whipple-type pancreatectomy", {"duodenum"}, {"pancreas", "stomach"}, AAPC_WHIPPLE),
    "48152": _r("Whipple-type pancreatectomy", {"duodenum"}, {"pancreas", "stomach"}, AAPC_WHIPPLE),
    # ... with near-total duodenectomy, choledochoenterostomy and duodenojejunostomy
    # (pylorus-sparing, Whipple-type procedure); with (48153) or without (48154)
    # pancreatojejunostomy
    "48153": _r("Pylorus-sparing Whipple-type pancreatectomy", set(), {"pancreas", "duodenum"},
                AAPC_WHIPPLE),
    "48154": _r("Pylorus-sparing Whipple-type pancreatectomy", set(), {"pancreas", "duodenum"},
                AAPC_WHIPPLE),
    # Pancreatectomy, distal subtotal, with or without splenectomy; without (48140) or with
    # (48145) pancreaticojejunostomy
    "48140": _r("Distal subtotal pancreatectomy", set(), {"pancreas"}, CODING_AHEAD + "48140"),
    "48145": _r("Distal subtotal pancreatectomy", set(), {"pancreas"}, CODING_AHEAD + "48145"),
    # Colectomy, partial, with removal of terminal ileum with ileocolostomy (open 44160,
    # laparoscopic 44205): the right colectomy; the appendix is not named, so only in part
    "44160": _r("Partial colectomy with terminal ileum", set(),
                {"colon", "small_intestine", "appendix"},
                "https://medcoder.ai/cptcode/44160-colectomy-partial-with-removal-of-terminal-ileum-with-ileocolostomy"),
    "44205": _r("Laparoscopic partial colectomy with terminal ileum", set(),
                {"colon", "small_intestine", "appendix"}, CODING_AHEAD + "44205"),
    # Enterectomy, resection of small intestine; single resection and anastomosis
    "44120": _r("Enterectomy", set(), {"small_intestine"}, CODING_AHEAD + "44120"),
}  # fmt: skip
# Every Whipple-type code names a choledochoenterostomy: a bilioenteric anastomosis.
WHIPPLE_CPT: Final = frozenset({"48150", "48152", "48153", "48154"})

# Procedures named in free text (only when the Procedure has no coding at all).
PROCEDURE_WORDS: Final[tuple[tuple[str, OptionCode], ...]] = (
    ("chemoemboli", "tace"),
    ("tace", "tace"),
    ("radioemboli", "tare"),
    ("selective internal radiation", "tare"),
    ("sirt", "tare"),
    ("tare", "tare"),
    ("y-90", "tare"),
    ("yttrium", "tare"),
    ("bland emboli", "tae"),
    ("transarterial emboli", "tae"),
    ("tae", "tae"),
    ("radiofrequency ablation", "thermal_ablation"),
    ("microwave ablation", "thermal_ablation"),
    ("rfa", "thermal_ablation"),
    ("mwa", "thermal_ablation"),
)
WHIPPLE_WORDS: Final = (
    "whipple",
    "pancreatoduodenectomy",
    "pancreaticoduodenectomy",
    "hepaticojejunostomy",
    "choledochojejunostomy",
    "bilioenteric",
)
