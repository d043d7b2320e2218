"""netlm: clinical decision support for neuroendocrine tumour liver metastases.

>>> import netlm
>>> case = netlm.parse_case_json(text)
>>> assessment = netlm.assess(case, lang="en")
"""

from importlib.metadata import version

from netlm.engine import assess
from netlm.knowledge.load import load_knowledge_base
from netlm.model import Assessment, Case, CaseInputError, parse_case, parse_case_json

# The software's release; the knowledge base has its own version (its manifest), which every
# assessment carries. `netlm --version` prints both.
__version__ = version("netlm")

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
