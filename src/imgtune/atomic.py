"""Atomic file writes: a reader sees the old file or the whole new one, never a part.

The file gets the mode a plain ``open(path, "w")`` would give it (``0666`` less the umask).

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> write_atomic(p, "one")
    >>> write_atomic(p, "two", overwrite=False)
    Traceback (most recent call last):
    ...
    FileExistsError: ... exists; pass overwrite=True to replace it
    >>> p.read_text()
    'one'
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def _umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, overwrite: bool = True) -> None:
    """Writes ``data`` to ``path`` through a synced temporary file in the same folder.

    Args:
        path: The destination; its folder is created when missing.
        data: Bytes, or text written as UTF-8.
        overwrite: When false, an existing ``path`` is never replaced, even one
            that appears while writing.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600; a written file gets the mode open() would give it
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)  # fails if the file appeared meanwhile: never clobbers
        except FileExistsError:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it") from None
        except OSError:  # a file system without hard links
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
