"""netlm: clinical decision support for neuroendocrine tumour liver metastases.

>>> import netlm
>>> case = netlm.parse_case_json(text)
>>> assessment = netlm.assess(case, lang="en")
"""

from netlm.engine import assess
from netlm.knowledge.load import load_knowledge_base
from netlm.model import Assessment, Case, CaseInputError, parse_case, parse_case_json

__version__ = "0.1.0"

__all__ = [
    "Assessment",
    "Case",
    "CaseInputError",
    "__version__",
    "assess",
    "load_knowledge_base",
    "parse_case",
    "parse_case_json",
]
