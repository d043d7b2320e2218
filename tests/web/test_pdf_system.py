"""The PDF report's system needs (Pango, the CJK fonts) are checked only when a PDF is asked
for: the app starts without them, and the PDF request says which Debian package is missing."""

import importlib.abc
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

from netlm.web.report import system
from tests.app.test_api import create
from tests.conftest import Env


class _NoPango(importlib.abc.MetaPathFinder):
    """Fails `import weasyprint` the way it fails on a machine without Pango: cffi's OSError."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        if fullname.split(".")[0] == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0': No such file or directory")


def test_the_app_starts_without_loading_weasyprint() -> None:
    code = "import sys, netlm.web.app, netlm.cli.app; print('weasyprint' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "False\n"), result.stderr


def test_without_pango_the_pdf_names_the_packages(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    create(env)
    for name in [m for m in sys.modules if m.split(".")[0] == "weasyprint"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_NoPango(), *sys.meta_path])
    client = env.client()
    response = client.get("/api/v1/cases/v03/report.pdf", headers=env.auth("viewer"))
    assert response.status_code == 503
    assert response.json() == {"errors": [{"field": "(server)", "message": (
        "the PDF report needs Pango, which is not installed on the server: "
        "install the Debian packages libpango-1.0-0 libpangoft2-1.0-0"
    )}]}  # fmt: skip
    assert client.get("/api/v1/cases/v03", headers=env.auth("viewer")).status_code == 200


def test_without_cjk_fonts_only_the_chinese_pdf_is_refused(
    env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    create(env)
    monkeypatch.setattr(system, "FONT_DIRS", (str(tmp_path),))
    client, auth = env.client(), env.auth("viewer")
    chinese = client.get("/api/v1/cases/v03/report.pdf?lang=zh", headers=auth)
    assert chinese.status_code == 503
    assert chinese.json()["errors"][0]["message"] == (
        "the Chinese PDF report needs the Noto CJK fonts: install the Debian package fonts-noto-cjk"
    )
    english = client.get("/api/v1/cases/v03/report.pdf?lang=en", headers=auth)
    assert english.status_code == 200
    assert english.content.startswith(b"%PDF")


def test_the_503_is_documented(env: Env) -> None:
    spec = env.client().get("/openapi.json").json()
    assert "503" in spec["paths"]["/api/v1/cases/{case_id}/report.pdf"]["get"]["responses"]
