"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Bad input must leave nothing half-written, so every output goes to a temporary
file beside the target and is renamed over it only once complete.

Writing never creates folders: a mistyped ``--out /nonexistent/dir/x.csv`` is a
one-line error naming the missing folder, not a silent ``mkdir -p``. A job that
means to make an output folder says so with :func:`output_folder`, which makes
only that folder, never the ones above it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from biofab.core.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    On an exception the temporary file is removed and ``target`` is untouched.
    The file gets the usual permissions (``0666`` less the umask; ``mkstemp``
    alone would make it private). Raises :class:`InputError` when the folder
    ``target`` goes into does not exist.
    """
    path = Path(target)
    require_folder(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_atomic(target: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``target`` atomically; returns the path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return Path(target)


def require_folder(target: str | os.PathLike[str]) -> Path:
    """The existing folder ``target`` will be written into (an :class:`InputError` if none)."""
    folder = Path(target).parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"cannot write {target}: folder {folder} {what}; create it first")
    return folder


def output_folder(path: str | os.PathLike[str]) -> Path:
    """Make the output folder ``path`` if it is missing; its parent must already exist."""
    folder = Path(path)
    if folder.is_dir():
        return folder
    require_folder(folder)
    try:
        folder.mkdir()
    except FileExistsError:
        if not folder.is_dir():  # another process may have made it meanwhile: that is fine
            raise InputError(f"cannot make folder {folder}: a file has that name") from None
    return folder
