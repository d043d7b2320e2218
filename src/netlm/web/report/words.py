"""Report-only vocabulary in English and Chinese.

The shared catalogue (`messages.yaml`) holds what every renderer says; these labels exist only on
the tumour-board report and the forest plot, so they live beside them.
"""

from netlm.knowledge.load import KnowledgeBase

WORDS: dict[str, dict[str, str]] = {
    "title": {"en": "Tumour board report", "zh": "肿瘤多学科诊疗（MDT）报告"},
    "generated": {"en": "Generated", "zh": "生成时间"},
    "released": {"en": "released", "zh": "发布于"},
    "patient_summary": {"en": "Patient summary", "zh": "患者概况"},
    "patient": {"en": "Patient", "zh": "患者"},
    "primary": {"en": "Primary tumour", "zh": "原发肿瘤"},
    "pathology": {"en": "Pathology", "zh": "病理"},
    "liver": {"en": "Liver metastases", "zh": "肝转移"},
    "extrahepatic": {"en": "Extrahepatic disease", "zh": "肝外病灶"},
    "imaging": {"en": "SSTR imaging", "zh": "SSTR显像"},
    "course": {"en": "Course", "zh": "病程"},
    "prior_therapies": {"en": "Prior therapies", "zh": "既往治疗"},
    "labs": {"en": "Laboratory", "zh": "实验室检查"},
    "not_recorded": {"en": "not recorded", "zh": "未记录"},
    "basis": {"en": "Basis", "zh": "判定依据"},
    "rank": {"en": "Rank", "zh": "排序"},
    "unverified": {"en": "unverified", "zh": "未核实"},
    "forest_title": {"en": "Hazard ratios of the cited trials", "zh": "所引试验的风险比（HR）"},
    "forest_caption": {
        "en": "favours treatment ← HR → favours control",
        "zh": "倾向治疗组 ← HR → 倾向对照组",
    },
    "forest_empty": {
        "en": "No hazard ratios are available for the proposed options.",
        "zh": "推荐方案的引用证据中无可用的风险比（HR）。",
    },
    "hr_ci_header": {"en": "HR (95% CI)", "zh": "HR（95% CI）"},
    "forest_primary": {"en": " · primary endpoint", "zh": "（主要终点）"},
    "forest_no_ci": {"en": " · no 95% CI in the source as read", "zh": "（所读原文未给出95% CI）"},
    "forest_unverified": {
        "en": "† grey, hatched: evidence not verified",
        "zh": "† 灰色斜线：证据未核实",
    },
    "decision": {"en": "MDT decision", "zh": "MDT决定"},
    "no_decision": {"en": "No decision recorded.", "zh": "尚无记录的决定。"},
    "decided_on": {"en": "Date", "zh": "日期"},
    "participants": {"en": "Participants", "zh": "参会人员"},
    "chosen": {"en": "Chosen options", "zh": "选定方案"},
    "concordant": {"en": "Concordant with netlm", "zh": "与netlm建议一致"},
    "dissent": {"en": "Dissent", "zh": "不同意见"},
    "notes": {"en": "Notes", "zh": "备注"},
    "recorded_by": {"en": "Recorded by", "zh": "记录人"},
    "colon": {"en": ": ", "zh": "："},
    "page_of": {"en": "page {page} of {pages}", "zh": "第 {page} 页，共 {pages} 页"},
}


def word(key: str, lang: str) -> str:
    """A report-only word; English unless Chinese is asked for, like `Text`."""
    entry = WORDS[key]
    return entry["zh"] if lang == "zh" else entry["en"]


class ReportWords:
    """One language's words: report-only keys first, then the shared catalogue."""

    def __init__(self, kb: KnowledgeBase, lang: str) -> None:
        self.kb, self.lang = kb, lang

    def __call__(self, key: str) -> str:
        if key in WORDS:
            return word(key, self.lang)
        return self.kb.messages[key](self.lang)
