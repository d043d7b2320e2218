"""`netlm serve --demo`: an embedded store with the bundled example cases and a demo account."""

import contextlib
import json
import secrets
from pathlib import Path

from netlm.model.parse import parse_case
from netlm.settings import Settings
from netlm.store.db import upgrade
from netlm.store.errors import Conflict
from netlm.store.repository import Store, UserInfo
from netlm.web.service import Board

DEMO_USER = "demo"


def demo_password(settings: Settings) -> str:
    """The demo account's password: random per installation, kept beside the database."""
    path = settings.data_dir / "demo-password"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.write_text(password)
    path.chmod(0o600)
    return password


def prepare(settings: Settings, store: Store, board: Board, examples: Path) -> tuple[str, str]:
    """Migrate, create the demo clinician and load the examples; safe to run again."""
    upgrade(settings.database_url)
    password = demo_password(settings)
    try:
        user = store.add_user(DEMO_USER, password, "clinician", display_name="Demo clinician")
    except Conflict:
        user = next(u for u in store.list_users() if u.username == DEMO_USER)
    for path in sorted(examples.glob("*.json")):
        _load(board, user, path)
    return DEMO_USER, password


def _load(board: Board, user: UserInfo, path: Path) -> None:
    case = parse_case(json.loads(path.read_text(encoding="utf-8")))
    with contextlib.suppress(Conflict):  # already loaded: nothing stored is overwritten
        board.create(case, user, comment=f"example {path.name}")
