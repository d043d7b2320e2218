"""Runtime settings of the server and store, from the environment (12-factor style).

CDS Hooks: `NETLM_PUBLIC_URL` (the base URL the EHR calls, e.g. `https://netlm.example.org`;
JWT audiences and card links are built from it, never from the request's Host header; required:
without it /cds-services answers 503),
`NETLM_CDS_LANG` (`en` or `zh`, the language of the cards), `NETLM_CDS_REGION` (`US`, `EU`
or `CN`: where this hospital treats, for charts that carry no region), `NETLM_CDS_CORS_ORIGINS`
(comma-separated browser origins allowed to call /cds-services; default none),
`NETLM_CDS_ABOUT_URL` (the card source link; default the public URL),
`NETLM_CDS_MAX_TOKEN_AGE` (seconds a JWT's `iat` may lie in the past; default 300),
`NETLM_CDS_FHIR_TIMEOUT` (seconds per FHIR request; default 5) and `NETLM_CDS_FHIR_MAX_BYTES`
(largest FHIR response read; default 5 MB).

Request limits: `NETLM_MAX_BODY_BYTES` (default 1 MB) and `NETLM_MAX_FHIR_BODY_BYTES` (FHIR
Bundles and CDS Hooks requests; default 20 MB): larger bodies are refused with 413 unread.

Accounts: `NETLM_SESSION_IDLE_MINUTES` (a browser session ends after this long without a
request; default 30), `NETLM_SESSION_MAX_HOURS` (and this long after sign-in at the latest;
default 8) and `NETLM_TOKEN_DAYS` (lifetime of a new API token; default 90).
`NETLM_REQUIRE_MFA=1`: admins must sign in with a TOTP code; one without is sent to enrol first.

Single sign-on (OpenID Connect, netlm.web.oidc; off unless both are set): `NETLM_OIDC_ISSUER`
(the provider's issuer URL, https except on loopback), `NETLM_OIDC_CLIENT_ID` and, for a
confidential client, `NETLM_OIDC_CLIENT_SECRET`.

SMART App Launch, EHR launch (netlm.web.smart; off unless set): `NETLM_SMART_CLIENT_ID` and
`NETLM_SMART_CLIENT_SECRET` (netlm is a confidential client; both or neither), and
`NETLM_SMART_FRAME_ORIGINS` (comma-separated EHR origins allowed to show netlm in a frame; with
any, the session cookie is sent as SameSite=None; Secure so that it works inside the frame).
"""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from netlm.model.codes import LANGUAGES, REGIONS, Language, Region
from netlm.private import tighten

_CHECKOUT = Path(__file__).resolve().parents[2]  # src/netlm/settings.py -> the checkout


def default_data_dir() -> Path:
    """`var/` of the source checkout netlm runs from (where `make run` keeps it), else the
    user's data folder ($XDG_DATA_HOME/netlm, ~/.local/share/netlm); never the current folder,
    so that database commands find the same database from anywhere."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "src" / "netlm").is_dir():
        return _CHECKOUT / "var"
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "netlm"


def data_dir() -> Path:
    """`NETLM_DATA_DIR`, else the default data folder."""
    return Path(os.environ.get("NETLM_DATA_DIR") or default_data_dir())


def spark_folders() -> dict[str, str]:
    """Spark's warehouse and scratch folders under the data folder, not the current one (where
    Spark would leave `spark-warehouse/`)."""
    spark = data_dir().resolve() / "spark"
    return {
        "spark.sql.warehouse.dir": str(spark / "warehouse"),
        "spark.local.dir": str(spark / "tmp"),
    }


def database_url() -> str:
    """`NETLM_DATABASE_URL`, else the SQLite file in the data folder (nothing is created)."""
    return os.environ.get("NETLM_DATABASE_URL") or f"sqlite:///{data_dir() / 'netlm.db'}"


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    data_dir: Path
    login_max_failures: int = 5
    login_window_seconds: int = 900
    session_idle_minutes: int = 30
    session_max_hours: int = 8
    token_days: int = 90
    require_mfa: bool = False
    secure_cookies: bool = False
    public_url: str | None = None
    cds_lang: Language = "en"
    cds_region: Region | None = None  # where this hospital treats: EHRs carry no code for it
    cds_cors_origins: tuple[str, ...] = ()
    cds_about_url: str | None = None
    cds_max_token_age_seconds: int = 300
    cds_fhir_timeout_seconds: float = 5.0
    cds_fhir_max_bytes: int = 5_000_000
    max_body_bytes: int = 1_000_000
    max_fhir_body_bytes: int = 20_000_000
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    smart_client_id: str | None = None
    smart_client_secret: str | None = None
    smart_frame_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> "Settings":
        folder = data_dir()
        return cls(
            database_url=database_url(),
            secret_key=os.environ.get("NETLM_SECRET_KEY") or _stored_secret(folder),
            data_dir=folder,
            secure_cookies=os.environ.get("NETLM_SECURE_COOKIES", "") == "1",
            session_idle_minutes=_positive("NETLM_SESSION_IDLE_MINUTES", 30),
            session_max_hours=_positive("NETLM_SESSION_MAX_HOURS", 8),
            token_days=_positive("NETLM_TOKEN_DAYS", 90),
            require_mfa=os.environ.get("NETLM_REQUIRE_MFA", "") == "1",
            public_url=os.environ.get("NETLM_PUBLIC_URL") or None,
            cds_lang=_language(os.environ.get("NETLM_CDS_LANG") or "en"),
            cds_region=_region(os.environ.get("NETLM_CDS_REGION") or None),
            cds_cors_origins=tuple(
                o.strip()
                for o in os.environ.get("NETLM_CDS_CORS_ORIGINS", "").split(",")
                if o.strip()
            ),
            cds_about_url=os.environ.get("NETLM_CDS_ABOUT_URL") or None,
            cds_max_token_age_seconds=int(os.environ.get("NETLM_CDS_MAX_TOKEN_AGE") or 300),
            cds_fhir_timeout_seconds=float(os.environ.get("NETLM_CDS_FHIR_TIMEOUT") or 5.0),
            cds_fhir_max_bytes=int(os.environ.get("NETLM_CDS_FHIR_MAX_BYTES") or 5_000_000),
            max_body_bytes=int(os.environ.get("NETLM_MAX_BODY_BYTES") or 1_000_000),
            max_fhir_body_bytes=int(os.environ.get("NETLM_MAX_FHIR_BODY_BYTES") or 20_000_000),
            oidc_issuer=_issuer(os.environ.get("NETLM_OIDC_ISSUER") or None),
            oidc_client_id=os.environ.get("NETLM_OIDC_CLIENT_ID") or None,
            oidc_client_secret=os.environ.get("NETLM_OIDC_CLIENT_SECRET") or None,
            **_smart(),
        )


def _positive(name: str, default: int) -> int:
    """A whole number of at least 1 from the environment: a zero timeout would lock everyone out."""
    value = int(os.environ.get(name) or default)
    if value < 1:
        raise ValueError(f"{name} must be at least 1; got {value}")
    return value


def _language(value: str) -> Language:
    if value not in LANGUAGES:
        raise ValueError(f"NETLM_CDS_LANG must be one of {', '.join(LANGUAGES)}; got {value!r}")
    return cast(Language, value)


def _region(value: str | None) -> Region | None:
    if value is not None and value not in REGIONS:
        raise ValueError(f"NETLM_CDS_REGION must be one of {', '.join(REGIONS)}; got {value!r}")
    return value


def _issuer(value: str | None) -> str | None:
    """An OpenID provider's issuer: https, or http on loopback only (a test provider)."""
    if value is None:
        return None
    parts = urlsplit(value)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not (parts.scheme == "https" or loopback) or not parts.hostname:
        raise ValueError(f"NETLM_OIDC_ISSUER must be an https URL; got {value!r}")
    return value


def _smart() -> dict[str, Any]:
    """The SMART client's credentials (both or neither: netlm is a confidential client) and the
    EHR origins that may frame it, each an origin (https, or http on loopback), not a URL."""
    client_id = os.environ.get("NETLM_SMART_CLIENT_ID") or None
    secret = os.environ.get("NETLM_SMART_CLIENT_SECRET") or None
    if (client_id is None) != (secret is None):
        raise ValueError("set both NETLM_SMART_CLIENT_ID and NETLM_SMART_CLIENT_SECRET, or neither")
    origins = tuple(
        o.strip().rstrip("/") for o in os.environ.get("NETLM_SMART_FRAME_ORIGINS", "").split(",")
    )
    for origin in (o for o in origins if o):
        parts = urlsplit(origin)
        loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not (parts.scheme == "https" or loopback) or not parts.hostname or parts.path:
            raise ValueError(
                f"NETLM_SMART_FRAME_ORIGINS: {origin!r} is not an https origin (scheme://host[:port])"
            )
    return {"smart_client_id": client_id, "smart_client_secret": secret,
            "smart_frame_origins": tuple(o for o in origins if o)}  # fmt: skip


def _stored_secret(data_dir: Path) -> str:
    """A per-installation secret kept beside the embedded database (created once)."""
    path = data_dir / "secret.key"
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tighten(data_dir, 0o700)  # an older install's folder: it holds the key and the database
    if path.exists():
        tighten(path, 0o600)
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)  # never world-readable
    with os.fdopen(fd, "w") as file:
        file.write(key)
    return key
