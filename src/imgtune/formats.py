"""Format versions of what a run leaves on disk, and the one way they are checked.

A run's folder is what a user keeps and resumes, so each file format that imgtune reads back
carries a version, and each format owns its constant beside its reader and writer:

* ``RUN_VERSION`` (:mod:`imgtune.runner.results`): ``run.json``, and with it the folder's layout
  (:mod:`imgtune.runner.store`) and the files the sweep writes (``best/``, ``trials/<id>/``).
* ``PLAN_VERSION`` (:mod:`imgtune.compiler.plan`): ``plan.yaml``.
* ``CHECKPOINT_VERSION`` (:mod:`imgtune.train.checkpoints`): a checkpoint folder (its ``state/``,
  ``progress.json`` and ``info.json``), recorded in its ``info.json``.

Reading a file checks its version with :func:`upgrade` (or, where the format's own reader
migrates, :func:`refuse_newer`): a newer version than this imgtune's is refused, saying to
upgrade imgtune; an older one is brought up to date by the format's migrations, one version at a
time, or refused, saying what to do. A file written before its format recorded a version is
version 1.

>>> upgrade({"version": 1, "a": 1}, 2, {1: lambda d: {**d, "b": 2}}, format="demo", where="demo.json")
{'version': 2, 'a': 1, 'b': 2}
>>> upgrade({"version": 3}, 2, {}, format="demo", where="demo.json")
Traceback (most recent call last):
...
imgtune.errors.ValidationError: 1 problem:
  demo.json: made by a newer imgtune (demo format 3, this imgtune reads up to 2): upgrade imgtune (pip install --upgrade imgtune), or use another output folder
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from imgtune.errors import Problem, ValidationError

__all__ = ["UNVERSIONED", "Migration", "oldest_readable", "refuse_newer", "upgrade", "version_of"]

#: The version of a file that names none: it was written before its format recorded one.
UNVERSIONED = 1

#: Turns a file's data of version ``v`` into that of version ``v + 1`` (registered under ``v``).
Migration = Callable[[dict[str, Any]], dict[str, Any]]


def version_of(data: Mapping[str, Any], *, key: str = "version") -> Any:
    """The format version ``data`` records under ``key`` (:data:`UNVERSIONED` when it records none).

    >>> version_of({"version": 2}), version_of({}), version_of({"format_version": 3}, key="format_version")
    (2, 1, 3)
    """
    return data.get(key, UNVERSIONED)


def oldest_readable(current: int, migrations: Mapping[int, Migration]) -> int:
    """The oldest version that ``migrations`` bring up to ``current`` (``current`` without any).

    >>> oldest_readable(3, {2: dict}), oldest_readable(3, {1: dict, 2: dict}), oldest_readable(1, {})
    (2, 1, 1)
    """
    oldest = current
    while oldest - 1 in migrations:
        oldest -= 1
    return oldest


def _checked(found: Any, current: int, *, format: str, where: str) -> int:
    if isinstance(found, bool) or not isinstance(found, int) or found < 1:
        raise ValidationError([Problem(where, f"the {format} format version must be a whole number >= 1, got "
                                              f"{found!r}: the file is damaged; use another output folder")])
    refuse_newer(found, current, format=format, where=where)
    return found


def refuse_newer(found: Any, current: int, *, format: str, where: str) -> None:
    """Refuses a version newer than ``current``, saying what to do; anything else passes.

    Args:
        found: The version the file records.
        current: The version this imgtune writes (the format's constant).
        format: The format's name in the message (``run``, ``plan``, ``checkpoint``).
        where: The file (the problem's path).

    Raises:
        ValidationError: ``found`` is newer than ``current``.
    """
    if isinstance(found, int) and not isinstance(found, bool) and found > current:
        raise ValidationError([Problem(where, f"made by a newer imgtune ({format} format {found}, this imgtune "
                                              f"reads up to {current}): upgrade imgtune (pip install --upgrade "
                                              f"imgtune), or use another output folder")])


def upgrade(data: Mapping[str, Any], current: int, migrations: Mapping[int, Migration], *, format: str,
            where: str, key: str = "version") -> dict[str, Any]:
    """``data`` (a file's content) in the ``current`` version of its format, its version under ``key``.

    Args:
        data: What the file holds.
        current: The version this imgtune writes (the format's constant).
        migrations: ``v`` -> the :data:`Migration` from version ``v`` to ``v + 1``.
        format: The format's name in messages (``run``, ``plan``, ``checkpoint``).
        where: The file (the problems' path).
        key: Where the file records its version.

    Raises:
        ValidationError: The version is newer than ``current`` (upgrade imgtune), older than any
            migration reaches (read it with an older imgtune, or run the job again), or not a version.
    """
    found = _checked(version_of(data, key=key), current, format=format, where=where)
    oldest = oldest_readable(current, migrations)
    if found < oldest:
        readable = f"{oldest} to {current}" if oldest < current else f"only {current}"
        raise ValidationError([Problem(where, f"made by an older imgtune ({format} format {found}, this imgtune "
                                              f"reads {readable}): read it with the imgtune that made it, or run "
                                              f"the job again in another output folder")])
    out = dict(data)
    for version in range(found, current):
        out = dict(migrations[version](out))
    out[key] = current
    return out
