"""Runtime settings of the server and store, from the environment (12-factor style)."""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path("var")


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    data_dir: Path
    login_max_failures: int = 5
    login_window_seconds: int = 900
    session_max_age_seconds: int = 8 * 3600
    secure_cookies: bool = False

    @classmethod
    def from_env(cls) -> "Settings":
        data_dir = Path(os.environ.get("NETLM_DATA_DIR", DEFAULT_DATA_DIR))
        url = os.environ.get("NETLM_DATABASE_URL") or f"sqlite:///{data_dir / 'netlm.db'}"
        return cls(
            database_url=url,
            secret_key=os.environ.get("NETLM_SECRET_KEY") or _stored_secret(data_dir),
            data_dir=data_dir,
            secure_cookies=os.environ.get("NETLM_SECURE_COOKIES", "") == "1",
        )


def _stored_secret(data_dir: Path) -> str:
    """A per-installation secret kept beside the embedded database (created once)."""
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
