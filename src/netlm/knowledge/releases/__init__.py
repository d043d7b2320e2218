"""Released knowledge bases, archived in the package, and every other version one can name.

Each release's data folder is kept here as `<version>.tar.gz` (written by `netlm kb release`),
so comparing the working tree with the last release (`netlm kb impact --base release`) needs no
git history: a CI clone may be shallow. A version can also be named by a folder (a data folder,
or a checkout holding `src/netlm/knowledge/data`), an archive file or a git ref of this checkout.
"""

import gzip
import io
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from netlm.knowledge.load import (
    DATA_PACKAGE,
    KnowledgeBase,
    KnowledgeBaseError,
    load_from,
    load_knowledge_base,
)

RELEASES = Path(__file__).parent
DATA_IN_CHECKOUT = "src/netlm/knowledge/data"
RELEASE_ALIASES = ("release", "previous")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_ARCHIVE_ROOT = "data"


class BaseError(Exception):
    """A knowledge-base version that cannot be found or read; the message says which and why."""


@dataclass(frozen=True)
class Version:
    """A loaded knowledge base and where it came from (said in reports)."""

    kb: KnowledgeBase
    source: str


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def archived() -> list[str]:
    """The versions archived in this package, oldest first."""
    names = (p.name.removesuffix(".tar.gz") for p in RELEASES.glob("*.tar.gz"))
    return sorted((v for v in names if _VERSION.match(v)), key=_key)


def last_release(tree: Path) -> str:
    """The newest archived release, not newer than the data folder `tree`, that differs from it:
    for a working tree being edited, the release it started from; for one just released (its
    own archive is identical), the release before."""
    current = _key(manifest_version(tree))
    mine = archive_bytes(tree)
    for version in reversed(archived()):
        if _key(version) <= current and (RELEASES / f"{version}.tar.gz").read_bytes() != mine:
            return version
    raise BaseError(
        f"no released knowledge base other than this one ({'.'.join(map(str, current))}) in "
        f"{RELEASES} (archived: {', '.join(archived()) or 'none'}); `netlm kb release` archives one"
    )


def package_data() -> Path:
    """The working tree's (installed) data folder."""
    return Path(str(resources.files(DATA_PACKAGE)))


def _data_files(folder: Path) -> list[Path]:
    """The YAML files, which are the knowledge base (a wheel installs nothing else of it)."""
    return sorted(p for p in folder.rglob("*.yaml") if p.is_file())


def archive_bytes(folder: Path) -> bytes:
    """The data folder as a reproducible .tar.gz (same files, same bytes: no dates, no owners)."""
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in _data_files(folder):
            data = path.read_bytes()
            info = tarfile.TarInfo(f"{_ARCHIVE_ROOT}/{path.relative_to(folder).as_posix()}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def manifest_version(folder: Path) -> str:
    """The version in a data folder's manifest (read alone, so an unreadable KB is named)."""
    try:
        manifest = yaml.safe_load((folder / "manifest.yaml").read_text(encoding="utf-8"))
        version = str(manifest["version"])
    except (OSError, yaml.YAMLError, TypeError, KeyError):
        raise BaseError(f"{folder}: no readable manifest.yaml with a version") from None
    if not _VERSION.match(version):
        raise BaseError(f"{folder}/manifest.yaml: version {version!r} is not MAJOR.MINOR.PATCH")
    return version


def write_release(folder: Path, source: str, out_dir: Path = RELEASES) -> tuple[Path, bool]:
    """Archive `folder` as `<version>.tar.gz`; a release is immutable, so an existing archive of
    the same version must hold the same files, and one this netlm cannot read is refused.
    Returns the archive and whether it was new."""
    version = manifest_version(folder)
    _load(folder, source)
    target = out_dir / f"{version}.tar.gz"
    data = archive_bytes(folder)
    if target.exists():
        if target.read_bytes() != data:
            raise BaseError(
                f"{target}: knowledge base {version} is already released with other content; "
                "raise `version` in manifest.yaml for a new release"
            )
        return target, False
    target.write_bytes(data)
    return target, True


def _extract(archive: Path, into: Path) -> Path:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(into, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise BaseError(f"{archive}: not a readable knowledge-base archive ({exc})") from None
    return into / _ARCHIVE_ROOT


def _checkout() -> Path | None:
    """The git checkout netlm runs from, if it runs from one."""
    try:
        done = subprocess.run(
            ["git", "-C", str(RELEASES), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return Path(done.stdout.strip()) if done.returncode == 0 else None


def _git_data(ref: str, into: Path) -> Path | None:
    """The data folder at `ref` of this checkout, extracted into `into`; None if no such ref."""
    root = _checkout()
    if root is None or ref.startswith("-"):
        return None
    git = ["git", "-C", str(root)]
    found = subprocess.run([*git, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                           capture_output=True, text=True, check=False)  # fmt: skip
    if found.returncode != 0:
        return None
    commit = found.stdout.strip()
    tar = subprocess.run([*git, "archive", "--format=tar", commit, DATA_IN_CHECKOUT],
                         capture_output=True, check=False)  # fmt: skip
    if tar.returncode != 0:
        raise BaseError(f"{ref}: commit {commit[:12]} has no {DATA_IN_CHECKOUT}")
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as archive:
        archive.extractall(into, filter="data")
    return into / DATA_IN_CHECKOUT


def _folder(path: Path) -> Path | None:
    for candidate in (path, path / DATA_IN_CHECKOUT):
        if (candidate / "manifest.yaml").is_file():
            return candidate
    return None


def _locate(spec: str, scratch: Path) -> tuple[Path, str]:
    """The data folder `spec` names and how to say where it came from."""
    if spec in RELEASE_ALIASES:
        version = last_release(package_data())
        return _extract(RELEASES / f"{version}.tar.gz", scratch), f"release {version}"
    path = Path(spec)
    if path.is_dir():
        folder = _folder(path)
        if folder is None:
            raise BaseError(f"{spec}: a folder without manifest.yaml or {DATA_IN_CHECKOUT}")
        return folder, f"folder {spec}"
    if path.is_file() and spec.endswith(".tar.gz"):
        return _extract(path, scratch), f"archive {path.name}"
    if spec in archived():
        return _extract(RELEASES / f"{spec}.tar.gz", scratch), f"release {spec}"
    from_git = _git_data(spec, scratch)
    if from_git is not None:
        return from_git, f"git {spec}"
    raise BaseError(
        f"{spec}: not `release`, an archived version ({', '.join(archived()) or 'none'}), "
        "a folder, a .tar.gz archive or a git ref of this checkout"
    )


@contextmanager
def locate_folder(spec: str | None) -> Iterator[tuple[Path, str]]:
    """The data folder `spec` names (None: the working tree's) and where it came from;
    temporary files are removed on exit."""
    if spec is None:
        yield package_data(), "working tree"
        return
    scratch = Path(tempfile.mkdtemp(prefix="netlm-kb-"))
    try:
        yield _locate(spec, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def open_version(spec: str | None) -> Iterator[Version]:
    """The knowledge base `spec` names (None: the working tree's, as the engine loads it)."""
    if spec is None:
        yield Version(load_knowledge_base(), "working tree")
        return
    with locate_folder(spec) as (folder, source):
        yield Version(_load(folder, source), source)


def _load(folder: Path, source: str) -> KnowledgeBase:
    version = manifest_version(folder)
    try:
        return load_from(folder)
    except OSError as exc:
        detail = f"{Path(str(exc.filename)).name}: {exc.strerror}"
        raise BaseError(
            f"knowledge base {version} ({source}) cannot be read by this netlm: {detail}"
        ) from None
    except KnowledgeBaseError as exc:
        detail = "; ".join(str(exc).splitlines()[:3])
        raise BaseError(
            f"knowledge base {version} ({source}) cannot be read by this netlm: {detail}"
        ) from None
