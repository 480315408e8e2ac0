"""Writing files that may hold personal data: owner-only, whatever the umask.

Every file the tool writes that can contain personal data (extracts, rejects, workbooks, the
database, link exports) goes through these helpers: folders are created 0700, files 0600, and a
file is written to a temporary name in the same folder and renamed into place, so a reader never
sees half a file and a failure leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def secure_mkdir(path: Path) -> Path:
    """Create ``path`` (and parents) owner-only; tighten an existing folder we are about to fill."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def make_owner_only(path: Path) -> None:
    """Set a file to 0600 (or a folder to 0700)."""
    os.chmod(path, DIR_MODE if path.is_dir() else FILE_MODE)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is made 0600 and renamed onto it.

    On any exception the temporary file is removed and ``target`` is left as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_owner_only(target: Path, writer: Callable[[Path], object]) -> Path:
    """Call ``writer(tmp_path)`` and move the result onto ``target`` owner-only, atomically."""
    with atomic_path(target) as tmp:
        writer(tmp)
    return target
