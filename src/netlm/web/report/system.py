"""What the PDF report needs from the operating system, checked when a PDF is asked for.

WeasyPrint loads Pango when it is imported, and Chinese text needs the Noto CJK fonts; neither
is needed for anything else, so the app starts without them and the PDF request says which
Debian package to install.
"""

import glob
import os
from pathlib import Path
from typing import Any

PANGO_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0"
CJK_PACKAGE = "fonts-noto-cjk"
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")


class PdfUnavailable(Exception):
    """The PDF cannot be made on this machine; the message names the package to install."""


def weasyprint() -> Any:
    """The weasyprint module, or PdfUnavailable naming Pango's packages when it cannot load."""
    try:
        import weasyprint  # type: ignore[import-untyped]
        import weasyprint.urls  # type: ignore[import-untyped]
    except OSError:  # cffi could not open Pango's shared libraries
        raise PdfUnavailable(
            "the PDF report needs Pango, which is not installed on the server: "
            f"install the Debian packages {PANGO_PACKAGES}"
        ) from None
    return weasyprint


def check_fonts(lang: str) -> None:
    """Chinese needs Noto Sans CJK (the report names it first); without it the PDF would show
    empty boxes, so refuse instead."""
    if lang != "zh":
        return
    for folder in FONT_DIRS:
        pattern = os.path.join(Path(folder).expanduser(), "**", "NotoSansCJK*")
        if glob.glob(pattern, recursive=True):
            return
    raise PdfUnavailable(
        f"the Chinese PDF report needs the Noto CJK fonts: install the Debian package {CJK_PACKAGE}"
    )
