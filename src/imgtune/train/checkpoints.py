"""Atomic checkpoints of a trial: Orbax for the arrays, JSON for the rest, two pointers.

Layout of ``<workdir>/checkpoints``::

    step-000000120/            one checkpoint (the step is the training batch count)
        state/                 the TrainState arrays (orbax StandardCheckpointer)
        progress.json          the host half (:class:`~imgtune.train.state.Progress`)
        info.json              what a reader needs: model, classes, task, sizes, and the
                               checkpoint's format version (``format_version``)
    LAST                       text: the name of the checkpoint to resume from
    BEST                       text: the best checkpoint by the primary metric

**Format version.** :data:`CHECKPOINT_VERSION` is the version of a checkpoint folder's format
(its ``state/``, ``progress.json`` and ``info.json``); :meth:`Checkpoints.save` records it in
``info.json``, and every reader (:meth:`Checkpoints.restore`, :func:`load_weights`,
:func:`read_info`) checks it (:func:`upgrade_info`): a newer one is refused, saying to upgrade
imgtune; an older one is migrated (:data:`CHECKPOINT_MIGRATIONS`) or refused, saying what to do.
Checkpoints written before the version was recorded are version 1. Raise it when the folder
changes in a way an older imgtune would misread, and add a fixture of the previous version
(``tests/fixtures/make_run_fixture.py``).

Version 2 keeps the optimiser's numbers in its state (``optax.inject_hyperparams``: ``opt_state``
is ``(count, hyperparams, hyperparams_states, inner_state)``, where version 1 saved only what is now
``inner_state``). Its ``info.json`` is unchanged; :meth:`Checkpoints.restore` reads a version 1
``state/`` into the inner state and takes the numbers from the template (the trial's own
parameters, as the run that wrote it used them) and the count from ``step``, so an unfinished
trial of version 1 still resumes; the weights' readers need no migration.

**Atomic.** A checkpoint is written to ``.tmp-step-...`` (Orbax commits its own
folder atomically too), then renamed into place, then a pointer is replaced
(:func:`imgtune.atomic.write_atomic`: temp file + fsync + ``os.replace``), and
only then are checkpoints no pointer names deleted. A process killed at any
moment leaves the pointers naming complete checkpoints; leftovers (temp
folders, unreferenced checkpoints) are removed by :meth:`Checkpoints.clean`
when the trial starts again. While a trial runs, ``LAST`` and ``BEST`` are
kept (they are often the same folder); :meth:`Checkpoints.finish` drops
``LAST`` so that only the best remains.

**Multi-process.** Every process calls :meth:`Checkpoints.save` (Orbax saves
collectively); only process 0 renames, writes JSON and pointers, and deletes.

**Why Orbax and JSON.** Orbax restores into the live structure and sharding
(``restore(path, abstract_state)``), bitwise, for any Optax state; the
host half is small, human-readable JSON. A save of a small model takes
~0.3 s on CPU, so checkpoints are written once per epoch, not per step.

Example:
    >>> import jax.numpy as jnp, tempfile
    >>> from imgtune.train.state import Progress, TrainState
    >>> ck = Checkpoints(tempfile.mkdtemp())
    >>> st = TrainState(jnp.int32(7), {"w": jnp.ones(2)}, {}, ())
    >>> path = ck.save(st, Progress(epochs_done=1), info={"model_name": "x"}, best=True)
    >>> path.name, ck.last() == ck.best() == path
    ('step-000000007', True)
    >>> restored, progress = ck.restore(path, st)
    >>> int(restored.step), progress.epochs_done
    (7, 1)
    >>> ck.finish() == path and ck.last() is None
    True
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from imgtune.atomic import write_atomic
from imgtune.errors import Problem, ValidationError
from imgtune.formats import Migration, upgrade, version_of
from imgtune.spec.convert import structure, unstructure
from imgtune.train.devices import to_host
from imgtune.train.interrupt import shielded
from imgtune.train.state import Progress, TrainState

__all__ = ["CHECKPOINT_MIGRATIONS", "CHECKPOINT_VERSION", "VERSION_KEY", "Checkpoints", "flatten_weights",
           "load_into", "load_weights", "read_info", "upgrade_info"]

_LAST, _BEST = "LAST", "BEST"
_INFO = "info.json"

#: The checkpoint folder's format version (see the module doc), recorded in ``info.json``.
CHECKPOINT_VERSION = 2
#: Where ``info.json`` records it (``version`` could be read as the model's).
VERSION_KEY = "format_version"
#: Version ``v`` -> the :data:`~imgtune.formats.Migration` of an ``info.json`` of version ``v`` to ``v + 1``.
CHECKPOINT_MIGRATIONS: Mapping[int, Migration] = {
    1: dict,  # 1 -> 2: info.json is unchanged; the optimiser state's layout is migrated on restore
}


def upgrade_info(info: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A checkpoint's ``info.json`` (at ``where``) in the current format, :data:`CHECKPOINT_VERSION`.

    Raises:
        ValidationError: A newer format (upgrade imgtune), or an older one no migration reads;
            each message says what to do.
    """
    return upgrade(info, CHECKPOINT_VERSION, CHECKPOINT_MIGRATIONS, format="checkpoint", where=where,
                   key=VERSION_KEY)


def _checked_info(folder: Path) -> dict[str, Any] | None:
    """The checked ``info.json`` of a checkpoint folder (``None`` when it has none)."""
    return _checked_info_and_version(folder)[0]


def _checked_info_and_version(folder: Path) -> tuple[dict[str, Any] | None, int]:
    """The checked ``info.json`` of a checkpoint folder and the version it was written in."""
    path = folder / _INFO
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None, CHECKPOINT_VERSION
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError([Problem(str(path), f"is not valid JSON ({exc}); the checkpoint is damaged")]) from None
    if not isinstance(raw, dict):
        raise ValidationError([Problem(str(path), "is not a JSON object; the checkpoint is damaged")])
    info = upgrade_info(raw, str(path))
    return info, version_of(raw, key=VERSION_KEY)


def _injected(opt_state: Any) -> bool:
    """Whether ``opt_state`` is that of ``optax.inject_hyperparams`` (the version 2 layout)."""
    return all(hasattr(opt_state, f) for f in ("count", "hyperparams", "hyperparams_states", "inner_state"))


def _read_arrays(folder: Path, read: Any) -> Any:
    """``read()`` (Orbax's restore of ``folder/state``), with a damaged or truncated checkpoint
    reported in one line that names the folder (rather than TensorStore's dump)."""
    try:
        return read()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - Orbax/TensorStore raise many kinds; one line for all
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")[:200]
        raise ValidationError([Problem(str(folder), f"the checkpoint cannot be read, it is damaged or incomplete "
                                                    f"({type(exc).__name__}: {first}); delete it to start over, "
                                                    f"or use another one")]) from None


def _checkpointer():
    import orbax.checkpoint as ocp  # lazily: ~0.7 s to import

    return ocp.StandardCheckpointer()


class Checkpoints:
    """The checkpoints of one trial, in ``directory`` (see the module doc).

    Args:
        directory: The folder (created when missing).
        primary: Whether this process writes files (default: process 0).
    """

    def __init__(self, directory: str | os.PathLike[str], *, primary: bool | None = None):
        self.directory = Path(directory)
        self.primary = jax.process_index() == 0 if primary is None else primary
        if self.primary:
            self.directory.mkdir(parents=True, exist_ok=True)
        self._ck = None

    # -- pointers ----------------------------------------------------------------
    def _pointer(self, name: str) -> Path | None:
        p = self.directory / name
        try:
            target = self.directory / p.read_text().strip()
        except FileNotFoundError:
            return None
        return target if (target / "progress.json").is_file() else None

    def last(self) -> Path | None:
        """The checkpoint to resume from, or ``None``."""
        return self._pointer(_LAST)

    def best(self) -> Path | None:
        """The best checkpoint so far, or ``None``."""
        return self._pointer(_BEST)

    # -- writing -----------------------------------------------------------------
    def save(self, state: TrainState, progress: Progress, *, info: Mapping[str, Any],
             last: bool = True, best: bool = False) -> Path:
        """Writes a checkpoint and points ``LAST`` (and ``BEST`` when ``best``) at it.

        An interruption (:mod:`imgtune.train.interrupt`) that arrives meanwhile is held until the
        checkpoint is complete; a write that fails (or a ``KeyboardInterrupt`` outside a trial
        process) is abandoned: its temporary folder is removed and no pointer moves.
        """
        with shielded():
            try:
                return self._save(state, progress, info=info, last=last, best=best)
            except BaseException:
                if self.primary:
                    shutil.rmtree(self.directory / f".tmp-step-{int(to_host(state.step)):09d}", ignore_errors=True)
                raise

    def _save(self, state: TrainState, progress: Progress, *, info: Mapping[str, Any], last: bool,
              best: bool) -> Path:
        step = int(to_host(state.step))
        name = f"step-{step:09d}"
        final, tmp = self.directory / name, self.directory / f".tmp-{name}"
        if self.primary:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        if self._ck is None:
            self._ck = _checkpointer()
        self._ck.save((tmp / "state").absolute(), state._asdict(), force=True)
        self._ck.wait_until_finished()
        if self.primary:
            write_atomic(tmp / "progress.json", json.dumps(unstructure(progress), indent=1))
            write_atomic(tmp / _INFO, json.dumps({**info, VERSION_KEY: CHECKPOINT_VERSION}, indent=1, default=str))
            if final.exists():  # a stale folder of the same step that no pointer names
                if self._pointer(_LAST) == final or self._pointer(_BEST) == final:
                    shutil.rmtree(tmp)  # same step, same state: keep the one pointers name
                else:
                    shutil.rmtree(final)
            if tmp.exists():
                os.rename(tmp, final)
            if last:
                write_atomic(self.directory / _LAST, name)
            if best:
                write_atomic(self.directory / _BEST, name)
                if final.exists():  # refresh its progress (the same step saved earlier as LAST)
                    write_atomic(final / "progress.json", json.dumps(unstructure(progress), indent=1))
            self._prune()
        return final

    def finish(self) -> Path | None:
        """Ends the trial's checkpoints: only the best remains. Returns it (or ``None``)."""
        best = self.best()
        if self.primary:
            (self.directory / _LAST).unlink(missing_ok=True)
            if best is None:
                (self.directory / _BEST).unlink(missing_ok=True)
            self._prune()
        return best

    def clean(self) -> None:
        """Removes temp folders and checkpoints no pointer names (after a crash)."""
        if self.primary:
            self._prune()

    def _prune(self) -> None:
        keep = {p.name for p in (self.last(), self.best()) if p is not None}
        if not self.directory.is_dir():
            return
        for child in self.directory.iterdir():
            if child.is_dir() and child.name not in keep:
                shutil.rmtree(child, ignore_errors=True)

    # -- reading -----------------------------------------------------------------
    def restore(self, path: str | os.PathLike[str], template: TrainState) -> tuple[TrainState, Progress]:
        """The state at ``path``, laid out (structure, dtypes, shardings) like ``template``.

        Raises:
            ValidationError: The checkpoint is of a format this imgtune does not read (see the module doc).
        """
        import orbax.checkpoint as ocp

        path = Path(path)
        _, version = _checked_info_and_version(path)
        v1 = version < 2 and _injected(template.opt_state)
        saved = template._replace(opt_state=template.opt_state.inner_state) if v1 else template
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, saved._asdict())
        if self._ck is None:
            self._ck = _checkpointer()
        ck = self._ck
        arrays = _read_arrays(path, lambda: ck.restore((path / "state").absolute(), abstract))
        if v1:  # version 1: the optimiser's numbers were constants of the step, not in its state
            arrays["opt_state"] = template.opt_state._replace(count=arrays["step"], inner_state=arrays["opt_state"])
        try:
            progress = structure(json.loads((path / "progress.json").read_text()), Progress)
        except json.JSONDecodeError as exc:
            raise ValidationError([Problem(str(path / "progress.json"), f"is not valid JSON ({exc}); the "
                                                                         f"checkpoint is damaged")]) from None
        return TrainState(**arrays), progress


def _checkpoint_folder(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    for candidate in (p, p / "checkpoints"):
        if (candidate / "state").is_dir():
            return candidate
        best = Checkpoints(candidate, primary=False).best() if (candidate / _BEST).is_file() else None
        if best is not None:
            return best
    raise FileNotFoundError(f"no checkpoint at {p} (expected a checkpoint folder, or a trial folder with a BEST one)")


def load_weights(path: str | os.PathLike[str]) -> tuple[dict, dict]:
    """``(params, batch_stats)`` as nested dicts of numpy arrays from a checkpoint.

    ``path`` is a checkpoint folder (``.../step-000000120``), a trial's
    ``checkpoints`` folder or a trial's workdir (the ``BEST`` checkpoint is used).
    """
    import orbax.checkpoint as ocp

    folder = _checkpoint_folder(path)
    _checked_info(folder)
    restored = _read_arrays(folder, lambda: ocp.StandardCheckpointer().restore((folder / "state").absolute()))
    return _unwrap(jax.device_get(restored["params"])), _unwrap(jax.device_get(restored["batch_stats"]))


def _unwrap(tree: Any) -> Any:
    """Nested dicts with each ``{"value": array}`` (an ``nnx.Variable`` as saved) replaced by the array."""
    if isinstance(tree, Mapping):
        if set(tree) == {"value"} and not isinstance(tree["value"], Mapping):
            return tree["value"]
        return {k: _unwrap(v) for k, v in tree.items()}
    return tree


def read_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``info.json`` of a checkpoint (``path`` as in :func:`load_weights`), in the current format.

    Raises:
        FileNotFoundError: No checkpoint there, or one without ``info.json``.
        ValidationError: The checkpoint is of a format this imgtune does not read (see the module doc).
    """
    folder = _checkpoint_folder(path)
    info = _checked_info(folder)
    if info is None:
        raise FileNotFoundError(f"no {_INFO} in the checkpoint {folder}")
    return info


def load_into(model: Any, params: Mapping[str, Any], batch_stats: Mapping[str, Any]) -> None:
    """Copies saved parameters and statistics (:func:`load_weights`) into ``model``; shapes must match.

    Raises:
        ValidationError: A missing variable or a shape that differs, each under ``checkpoint_run_id``.
    """
    problems = []
    for kind, saved in ((nnx.Param, params), (nnx.BatchStat, batch_stats)):
        flat_saved = dict(flatten_weights(saved))
        updated = []
        for path, var in nnx.to_flat_state(nnx.state(model, kind)):
            key = ".".join(map(str, path))
            value, current = flat_saved.get(key), var.get_value()
            if value is None:
                problems.append(Problem(f"checkpoint_run_id.{key}", "missing in the checkpoint"))
            elif tuple(np.shape(value)) != tuple(current.shape):
                problems.append(Problem(f"checkpoint_run_id.{key}",
                                        f"shape {np.shape(value)} in the checkpoint, {current.shape} in the model"))
            else:
                updated.append((path, var.replace(jnp.asarray(value, dtype=current.dtype))))
        if not problems:
            nnx.update(model, nnx.from_flat_state(updated))
    if problems:
        raise ValidationError(problems)


def flatten_weights(tree: Any, prefix: str = "") -> Any:
    """``(dotted path, array)`` for every leaf of nested weights (as :func:`load_weights` gives them)."""
    if isinstance(tree, Mapping):
        for k, v in tree.items():
            yield from flatten_weights(v, f"{prefix}{k}.")
    else:
        yield prefix[:-1], tree
