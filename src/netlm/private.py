"""Files and folders that hold patient data or secrets are the owner's alone."""

import os
from pathlib import Path


def tighten(path: Path, mode: int) -> None:
    """Take group and other permissions off a file or folder of this user's, if it has any."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return
    if found.st_uid == os.getuid() and found.st_mode & 0o077:
        path.chmod(mode)
