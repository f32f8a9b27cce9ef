"""Hyperparameter samplers as pairs of pure functions (optax style).

A sampler is ``Sampler(init, propose)``, built by a factory that closes over
its settings:

* ``init(space, seed) -> state``
* ``propose(state, history) -> (proposal | None, state)``

``space`` is a tuple of conditional subspaces (Azure's ``search_space`` list),
each a mapping from a training-parameter name in
:data:`imgtune.spec.fields.SEARCHABLE` to a fixed scalar or a
:class:`~imgtune.spec.distributions.Distribution`. The empty tuple (no search
space) is treated as one empty subspace: it yields the single proposal
``(0, {})`` (the default hyperparameters) and is then exhausted.

A proposal is ``(subspace_index, params)`` with a value for every key of that
subspace, typed as its field: ``int`` for int fields, ``float`` for float
fields, ``bool``, ``str``, and the enum member for enum fields
(``SEARCHABLE[k].convert(v)``). ``history`` is a sequence of finished trials
``(subspace_index, params, metric)``; ``metric`` is ``None`` for a failed trial
and is maximised. ``None`` instead of a proposal means that the space is
exhausted: no further distinct valid point could be found.

State and resume
----------------
The state (:class:`SamplerState`) is an immutable NamedTuple of the normalised
space, the seed, the number of proposals made, a cursor (grid position or Sobol
indices) and the proposals issued so far. ``propose`` is a pure function of
``(space, seed, proposals so far, history)``: every random number of proposal
``i`` comes from ``np.random.default_rng([seed, stream, i])`` and every Sobol
point from its index in a scrambled sequence seeded by ``[seed, stream,
subspace]``. Two ways to resume therefore give the same future:

* persist :func:`state_to_json` (plain JSON) and rebuild with
  :func:`state_from_json` and the job's space; or
* replay: ``init`` again and call ``propose`` once per recorded proposal with
  the history as it was at that moment (for the history-free samplers,
  grid/random/sobol/AutoMode, with any history).

Validity
--------
A point is valid when every value passes ``SEARCHABLE[k].check`` and the two
cross-field rules hold (:func:`violation`): a ViT model (``vits16r224``,
``vitb16r224``, ``vitl16r224``) needs equal training and validation crop sizes,
and ``validation_resize_size`` must be at least ``validation_crop_size``. The
random samplers redraw an invalid or repeated point, at most
``max_attempts`` (100) times per proposal, then search the remaining points of
small finite subspaces (every dimension a choice or randint, at most 4096
points) exhaustively, and only then report exhaustion. The grid skips invalid
and repeated points.

Distributions
-------------
Every draw maps a uniform number ``u`` in ``[0, 1)`` through the inverse CDF:
choice ``values[floor(u k)]``, randint ``floor(u upper)``, uniform
``min + u (max - min)``, loguniform ``exp(uniform)`` (the bounds are
exponents), normal ``mu + sigma Phi^-1(u)``, lognormal ``exp(normal)``; random
sampling's ``logbase`` replaces ``exp`` by ``logbase ** x`` (Azure's base of
log-scale draws: with 10, ``log10`` of a loguniform draw is uniform over the
bounds). The
``q`` variants are ``round(x / q) * q`` with numpy's ``round`` (half to even),
tidied to 12 significant digits, and are *not* clipped to the bounds (as in
Azure/hyperopt); a rounded value outside its field's range is redrawn. A
float equal to an integer becomes an ``int`` for int fields; a value that is
still not an integer (e.g. ``uniform`` on an int field, which the spec rejects)
fails the field check and is redrawn.

Example:
    >>> from imgtune.spec.distributions import Choice
    >>> space = ({"model_name": Choice(values=("resnet18", "resnet50")), "number_of_epochs": 5},)
    >>> proposals(grid_sampler(), space, seed=0, n=5)
    [(0, {'model_name': 'resnet18', 'number_of_epochs': 5}), (0, {'model_name': 'resnet50', 'number_of_epochs': 5})]
"""

from __future__ import annotations

import enum
import itertools
import math
import statistics
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from imgtune.errors import Problem, ValidationError
from imgtune.spec.distributions import (
    Choice,
    Distribution,
    LogNormal,
    LogUniform,
    Normal,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    Randint,
    Uniform,
)
from imgtune.spec.fields import SEARCHABLE, Kind
from imgtune.spec.models import AUTOMODE_PORTFOLIO, CNN_MODELS, MODELS
from imgtune.spec.records import EXTRA_PARAMETERS
from imgtune.spec.rules import cross_field_problems
from imgtune.values import jsonable

__all__ = [
    "AUTOMODE_PORTFOLIO",
    "History",
    "Proposal",
    "Sampler",
    "SamplerState",
    "Space",
    "automode_portfolio",
    "automode_sampler",
    "automode_space",
    "bayesian_sampler",
    "grid_sampler",
    "proposals",
    "random_sampler",
    "state_from_json",
    "state_to_json",
    "violation",
]

Space = tuple  # tuple[Mapping[str, Distribution | scalar], ...]
Proposal = tuple  # (subspace_index, dict[str, scalar])
History = Sequence  # Sequence[(subspace_index, Mapping[str, scalar], float | None)]

#: Draws per proposal before the random samplers give up on a point.
MAX_ATTEMPTS = 100
#: Largest finite subspace the random samplers enumerate once draws fail.
_ENUMERATE_LIMIT = 4096

# Independent random streams (the second word of every seed sequence).
_STREAM_RANDOM, _STREAM_SOBOL, _STREAM_BAYES, _STREAM_AUTOMODE = 1, 2, 3, 4

_Sub = tuple  # tuple[tuple[str, Distribution | scalar], ...], sorted by key


class Sampler(NamedTuple):
    """A sampler: ``init(space, seed) -> state`` and ``propose(state, history) -> (proposal | None, state)``."""

    init: Callable[[Space, int], SamplerState]
    propose: Callable[[SamplerState, History], tuple[Proposal | None, SamplerState]]


class SamplerState(NamedTuple):
    """Everything a sampler carries between proposals (immutable, picklable).

    Attributes:
        kind: Which sampler made the state (``grid``, ``random``, ``sobol``,
            ``bayesian``, ``automode``).
        space: The normalised space: per subspace a tuple of ``(key, value)``
            sorted by key, fixed scalars converted to their field's type.
        seed: The seed, reduced modulo 2**64.
        count: Proposals made so far.
        cursor: Grid: ``(subspace, flat index)`` of the next point to try.
            Sobol (also Bayesian start trials): the next Sobol index per subspace.
        issued: Proposals made so far as ``(subspace_index, ((key, value), ...))``
            with JSON values (enum members as their string value).
    """

    kind: str
    space: tuple
    seed: int
    count: int
    cursor: tuple
    issued: tuple


# -- public helpers ----------------------------------------------------------------

def proposals(sampler: Sampler, space: Space, seed: int, n: int) -> list[Proposal]:
    """The first ``n`` proposals with an empty history (fewer when the space is exhausted)."""
    state = sampler.init(space, seed)
    out = []
    for _ in range(n):
        proposal, state = sampler.propose(state, ())
        if proposal is None:
            break
        out.append(proposal)
    return out


def state_to_json(state: SamplerState) -> dict:
    """The state without its space, as plain JSON (rebuild with :func:`state_from_json`)."""
    return {
        "kind": state.kind,
        "seed": state.seed,
        "count": state.count,
        "cursor": list(state.cursor),
        "issued": [[i, dict(items)] for i, items in state.issued],
    }


def state_from_json(space: Space, data: Mapping[str, Any]) -> SamplerState:
    """Rebuilds a state written by :func:`state_to_json` for the same ``space``.

    For AutoMode pass the empty space, as to ``init``.
    """
    kind = data["kind"]
    normal = _normalise(automode_space(False) if kind == "automode" else space)
    issued = tuple((int(i), _canon(_typed(dict(p)))) for i, p in data["issued"])
    return SamplerState(kind, normal, int(data["seed"]), int(data["count"]),
                        tuple(int(c) for c in data["cursor"]), issued)


#: How the samplers name one's own hyperparameters (``extra_parameters.<name>``; see imgtune.spec.records).
_EXTRA = EXTRA_PARAMETERS + "."


def violation(params: Mapping[str, Any]) -> str | None:
    """Why ``params`` is not a valid trial, or ``None`` when it is.

    >>> violation({"model_name": "vitb16r224", "training_crop_size": 224, "validation_crop_size": 256})
    'validation_crop_size: must equal training_crop_size (224) for ViT model vitb16r224, got 256'
    >>> violation({"beta1": 1.2})
    'beta1: must be in [0, 1], got 1.2'
    """
    for key, value in params.items():
        spec = SEARCHABLE.get(key)
        if spec is None and key.startswith(_EXTRA):  # one's own hyperparameter: checked by the job
            continue
        if spec is None:
            return f"{key}: not a searchable training parameter"
        message = spec.check(value)
        if message is not None:
            return f"{key}: {message}"
    problems = cross_field_problems(params)
    return f"{problems[0][0]}: {problems[0][1]}" if problems else None


# -- space handling ----------------------------------------------------------------

def _normalise(space: Space, *, allowed: tuple[type, ...] | None = None, what: str = "",
               max_subspaces: int | None = None) -> tuple:
    """Validates ``space`` and returns it as sorted tuples with typed scalars."""
    if isinstance(space, Mapping):
        space = (space,)
    space = tuple(space)
    if not space:
        space = ({},)
    problems = []
    if max_subspaces is not None and len(space) > max_subspaces:
        problems.append(Problem("search_space", f"{what} sampling takes {max_subspaces} subspace, got {len(space)}"))
    out = []
    for j, sub in enumerate(space):
        if not isinstance(sub, Mapping):
            problems.append(Problem(f"search_space[{j}]", f"must be a mapping, got {type(sub).__name__}"))
            continue
        items = []
        for key in sorted(sub):
            value = sub[key]
            path = f"search_space[{j}].{key}"
            if key not in SEARCHABLE and not key.startswith(_EXTRA):
                problems.append(Problem(path, "is not a searchable training parameter"))
                continue
            if isinstance(value, Distribution):
                if allowed is not None and not isinstance(value, allowed):
                    names = ", ".join(c.type for c in allowed)
                    problems.append(Problem(path, f"{what} sampling takes only {names}, got {value.type}"))
                    continue
                if isinstance(value, Choice):
                    value = Choice(values=_dedup(_field(key, v) for v in value.values))
            elif isinstance(value, (bool, int, float, str, enum.Enum)):
                value = _field(key, value)
            else:
                problems.append(Problem(path, f"must be a scalar or a distribution, got {type(value).__name__}"))
                continue
            items.append((key, value))
        out.append(tuple(items))
    if problems:
        raise ValidationError(problems, f"{what} sampler".strip())
    return tuple(out)


def _dedup(values) -> tuple:
    seen, out = set(), []
    for v in values:
        k = jsonable(v)
        if (type(k), k) not in seen:
            seen.add((type(k), k))
            out.append(v)
    return tuple(out)


def _field(key: str, value: Any) -> Any:
    """``value`` as its field's type: python scalars, integral floats to int for int fields, enums."""
    if isinstance(value, np.generic):
        value = value.item()
    if key.startswith(_EXTRA):  # one's own hyperparameter: its values as written
        return value
    spec = SEARCHABLE[key]
    if spec.kind is Kind.INT and isinstance(value, float) and value.is_integer():
        value = int(value)
    return spec.convert(value)


def _canon(params: Mapping[str, Any]) -> tuple:
    """A hashable, JSON-friendly form of a point (keys sorted, enums as strings)."""
    return tuple((k, jsonable(params[k])) for k in sorted(params))


def _typed(params: Mapping[str, Any]) -> dict:
    return {k: _field(k, v) for k, v in params.items()}


def _dims(sub: _Sub) -> list[tuple[str, Distribution]]:
    return [(k, v) for k, v in sub if isinstance(v, Distribution)]


def _q(x: float, q: float) -> float:
    return float(f"{float(np.round(x / q)) * q:.12g}")


_NORMAL = statistics.NormalDist()


def _power(x: float, logbase: float | None) -> float:
    """``logbase ** x`` (``exp(x)`` for ``None``), overflow-guarded."""
    return math.exp(min(x if logbase is None else x * math.log(logbase), 700.0))


def _inverse_cdf(dist: Distribution, u: float, logbase: float | None = None) -> Any:
    """The value of ``dist`` at quantile ``u`` in ``[0, 1)`` (log-scale in base ``logbase``; ``None``: e)."""
    if isinstance(dist, Choice):
        return dist.values[min(int(u * len(dist.values)), len(dist.values) - 1)]
    if isinstance(dist, Randint):
        return min(int(u * dist.upper), int(dist.upper) - 1)
    if isinstance(dist, (Uniform, LogUniform, QUniform, QLogUniform)):
        x = dist.min_value + u * (dist.max_value - dist.min_value)
        if isinstance(dist, (LogUniform, QLogUniform)):
            x = math.exp(x) if logbase is None else _power(x, logbase)
        return _q(x, dist.q) if isinstance(dist, (QUniform, QLogUniform)) else float(x)
    if isinstance(dist, (Normal, LogNormal, QNormal, QLogNormal)):
        u = min(max(u, 1e-12), 1 - 1e-12)
        x = dist.mu + dist.sigma * _NORMAL.inv_cdf(u)
        if isinstance(dist, (LogNormal, QLogNormal)):
            x = _power(x, logbase)
        return _q(x, dist.q) if isinstance(dist, (QNormal, QLogNormal)) else float(x)
    raise TypeError(f"not a distribution: {dist!r}")  # pragma: no cover


def _realise(sub: _Sub, u: Sequence[float], logbase: float | None = None) -> dict:
    """The point of ``sub`` at quantiles ``u`` (one per distribution, in key order)."""
    params, i = {}, 0
    for key, value in sub:
        if isinstance(value, Distribution):
            value = _field(key, _inverse_cdf(value, float(u[i]), logbase))
            i += 1
        params[key] = value
    return params


def _finite_values(sub: _Sub) -> list[tuple] | None:
    """Per key the possible values, when every dimension is a choice or randint."""
    out = []
    for key, value in sub:
        if isinstance(value, Choice):
            out.append(value.values)
        elif isinstance(value, Randint):
            out.append(tuple(_field(key, v) for v in range(int(value.upper))))
        elif isinstance(value, Distribution):
            return None
        else:
            out.append((value,))
    return out


def _issue(state: SamplerState, index: int, params: dict, **changes: Any) -> tuple[Proposal, SamplerState]:
    new = state._replace(count=state.count + 1, issued=state.issued + ((index, _canon(params)),), **changes)
    return (index, params), new


def _seen(state: SamplerState) -> set:
    return {items for _, items in state.issued}


# -- grid --------------------------------------------------------------------------

def grid_sampler() -> Sampler:
    """Every point of the cartesian product of the ``choice`` values, in order.

    Subspaces come in the order written; inside a subspace the keys are sorted
    by name and the product runs like ``itertools.product`` over them (the
    last key varies fastest), each key's values in the order written
    (repeated values dropped). A point equal to one of an earlier subspace, or
    invalid (:func:`violation`), is skipped. Fixed scalars are one value.
    Only ``choice`` is allowed (``ValidationError`` otherwise). The history is
    ignored; when the grid is used up ``propose`` returns ``None``.
    """

    def init(space: Space, seed: int = 0) -> SamplerState:
        normal = _normalise(space, allowed=(Choice,), what="grid")
        return SamplerState("grid", normal, int(seed) % 2**64, 0, (0, 0), ())

    def propose(state: SamplerState, history: History = ()) -> tuple[Proposal | None, SamplerState]:
        subs = state.space
        j, flat = state.cursor
        while j < len(subs):
            values = _finite_values(subs[j])
            sizes = [len(v) for v in values]
            total = math.prod(sizes)
            keys = [k for k, _ in subs[j]]
            while flat < total:
                digits, rest = [], flat
                for size in reversed(sizes):
                    rest, d = divmod(rest, size)
                    digits.append(d)
                params = {k: vals[d] for k, vals, d in zip(keys, values, reversed(digits))}
                flat += 1
                if violation(params) is None and not _in_earlier(subs, j, params):
                    return _issue(state, j, params, cursor=(j, flat))
            j, flat = j + 1, 0
        return None, state._replace(cursor=(j, flat))

    return Sampler(init, propose)


def _in_earlier(subs: tuple, j: int, params: dict) -> bool:
    """Whether an earlier subspace's grid holds ``params`` (it was emitted there)."""
    canon = _canon(params)
    for sub in subs[:j]:
        if [k for k, _ in sub] != [k for k, _ in canon]:
            continue
        values = _finite_values(sub)
        if all(any(jsonable(v) == c and type(jsonable(v)) is type(c) for v in vals)
               for vals, (_, c) in zip(values, canon)):
            return True
    return False


# -- random and sobol ----------------------------------------------------------------

def random_sampler(rule: str = "random", *, max_attempts: int = MAX_ATTEMPTS,
                   logbase: float | None = None) -> Sampler:
    """Independent draws from the distributions (``rule="random"``) or scrambled Sobol points (``"sobol"``).

    Each proposal picks its subspace uniformly at random (a seeded numpy
    Generator, never Python's ``hash``), then draws every distribution of
    that subspace (keys in sorted order, one uniform number each, mapped by
    the inverse CDF). With ``rule="sobol"`` the uniform numbers are the next
    point of a scrambled Sobol sequence (``scipy.stats.qmc.Sobol``, seeded by
    ``[seed, 2, subspace]``) over all the distributions of the subspace, one
    sequence per subspace; choice and randint use ``floor(u k)``. Invalid or
    repeated points are redrawn (see the module docstring). The history is
    ignored. ``logbase`` is the base of the log-scale distributions
    (``None``: e): loguniform draws ``logbase ** U(min, max)``.

    Example:
        >>> from imgtune import LogUniform
        >>> (_, p), _ = random_sampler(logbase=10).propose(
        ...     random_sampler(logbase=10).init(({"learning_rate": LogUniform(min_value=-4, max_value=-2)},), 0))
        >>> 1e-4 <= p["learning_rate"] <= 1e-2
        True
    """
    if logbase is not None and not (isinstance(logbase, (int, float)) and logbase > 0 and logbase != 1):
        raise ValidationError([Problem("sweep.sampling_algorithm.logbase",
                                       f"must be a positive number other than 1, got {logbase!r}")])
    rule = str(rule).lower()
    if rule not in ("random", "sobol"):
        raise ValidationError([Problem("sweep.sampling_algorithm.rule", f"must be random or sobol, got {rule!r}")])

    def init(space: Space, seed: int = 0) -> SamplerState:
        normal = _normalise(space, what=rule)
        cursor = (0,) * len(normal) if rule == "sobol" else ()
        return SamplerState(rule, normal, int(seed) % 2**64, 0, cursor, ())

    def propose(state: SamplerState, history: History = ()) -> tuple[Proposal | None, SamplerState]:
        return _draw(state, rule, max_attempts, logbase=logbase)

    return Sampler(init, propose)


def _sobol_point(seed: int, j: int, dims: int, index: int) -> np.ndarray:
    from scipy.stats import qmc  # lazy: scipy.stats is slow to import

    engine = qmc.Sobol(dims, scramble=True, seed=np.random.default_rng([seed, _STREAM_SOBOL, j]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if index:
            engine.fast_forward(index)
        return engine.random(1)[0]


def _draw(state: SamplerState, rule: str, max_attempts: int, *, stream: int = _STREAM_RANDOM,
          subspaces: Sequence[int] | None = None, weights: Sequence[float] | None = None,
          logbase: float | None = None) -> tuple[Proposal | None, SamplerState]:
    """One random (or Sobol) proposal; the shared core of random, sobol, Bayesian start and AutoMode."""
    subs = state.space
    choices = list(range(len(subs))) if subspaces is None else list(subspaces)
    p = None if weights is None else np.asarray(weights, dtype=float) / np.sum(weights)
    seen = _seen(state)
    rng = np.random.default_rng([state.seed, stream, state.count])
    cursor = list(state.cursor) if rule == "sobol" else []
    for _ in range(max_attempts):
        j = choices[int(rng.choice(len(choices), p=p))] if len(choices) > 1 else choices[0]
        dims = _dims(subs[j])
        if rule == "sobol" and dims:
            u = _sobol_point(state.seed, j, len(dims), cursor[j])
            cursor[j] += 1
        else:
            u = rng.random(len(dims))
        params = _realise(subs[j], u, logbase)
        if violation(params) is None and _canon(params) not in seen:
            return _issue(state, j, params, cursor=tuple(cursor) if rule == "sobol" else state.cursor)
    # Draws keep failing: search small finite subspaces exhaustively.
    remaining = []
    for j in choices:
        values = _finite_values(subs[j])
        if values is None or math.prod(len(v) for v in values) > _ENUMERATE_LIMIT:
            continue
        keys = [k for k, _ in subs[j]]
        for combo in itertools.product(*values):
            params = dict(zip(keys, combo))
            if violation(params) is None and _canon(params) not in seen:
                remaining.append((j, params))
                seen.add(_canon(params))
    if remaining:
        j, params = remaining[int(rng.integers(len(remaining)))]
        return _issue(state, j, params, cursor=tuple(cursor) if rule == "sobol" else state.cursor)
    return None, state


# -- bayesian ----------------------------------------------------------------------

_BAYES_TYPES = (Choice, Uniform, QUniform)
_BAYES_EXTENDED = _BAYES_TYPES + (Randint, LogUniform, QLogUniform)


def bayesian_sampler(n_startup: int | None = None, *, n_candidates: int = 2048, n_local: int = 512,
                     startup_rule: str = "random", fit_steps: int = 80, extended: bool = False,
                     max_attempts: int = MAX_ATTEMPTS) -> Sampler:
    """Gaussian-process Bayesian optimisation with expected improvement.

    Method (the surrogate is :mod:`imgtune.compiler.gp`):

    1. The first ``n_startup`` proposals (default ``max(5, dimensions + 1)``,
       a dimension being one search-space key), and any proposal made while
       fewer than two trials have a metric, are start trials drawn like
       ``random_sampler(startup_rule)``; with the default ``"random"`` they
       are exactly the random sampler's proposals for the same seed. (In
       ``benchmarks/hpo_quality.py`` this start beat ``2 * dimensions`` and a
       Sobol start at 20 and 40 trials.)
    2. Afterwards every finished trial with a finite metric is encoded as
       features in ``[0, 1]``: uniform and quniform by their bounds, choice
       one-hot (a one-value choice adds no feature); failed trials are
       ignored. Proposals issued but not yet in the history (trials still
       running) are added with the worst observed metric ("constant liar,
       minimum"), so concurrent proposals spread out.
    3. The GP is fitted (Matern 5/2 ARD, standardised outputs, float64,
       padded to a power of two: see :mod:`imgtune.compiler.gp`).
    4. Candidates: ``n_candidates`` uniform random points plus ``n_local``
       perturbations of the five best trials (Gaussian steps of 0.1 in the
       unit cube, each choice re-drawn with probability 0.2), all seeded by
       ``[seed, 3, count]``; quniform values are rounded and choices are
       exact, so every candidate is a real point.
    5. The valid candidate (:func:`violation`) not proposed before with the
       highest expected improvement wins (ties: the higher posterior mean).

    The same space, seed, count and history give the same proposal.

    Args:
        n_startup: Start trials before the surrogate takes over.
        n_candidates: Random candidates per proposal.
        n_local: Local perturbations of the best trials per proposal.
        startup_rule: ``"sobol"`` or ``"random"`` for the start trials.
        fit_steps: Adam steps of the hyperparameter fit.
        extended: Also accept randint, loguniform and qloguniform (encoded
            by their exponent). Azure's ``bayesian`` takes only choice,
            uniform and quniform; this is imgtune's extension, off by
            default and unreachable from YAML.
        max_attempts: Redraws per start trial.

    Only one subspace is allowed (``ValidationError`` otherwise), as in Azure.
    """
    allowed = _BAYES_EXTENDED if extended else _BAYES_TYPES
    if startup_rule not in ("random", "sobol"):
        raise ValidationError([Problem("startup_rule", f"must be random or sobol, got {startup_rule!r}")])

    def init(space: Space, seed: int = 0) -> SamplerState:
        normal = _normalise(space, allowed=allowed, what="bayesian", max_subspaces=1)
        return SamplerState("bayesian", normal, int(seed) % 2**64, 0, (0,), ())

    def propose(state: SamplerState, history: History = ()) -> tuple[Proposal | None, SamplerState]:
        sub = state.space[0]
        dims = _dims(sub)
        startup = n_startup if n_startup is not None else max(5, len(dims) + 1)
        observed = [(dict(p), float(m)) for i, p, m in history
                    if i == 0 and m is not None and math.isfinite(m) and _matches(sub, p)]
        if not dims or state.count < startup or len(observed) < 2:
            return _draw(state, startup_rule, max_attempts)
        proposal = _bayes_step(state, sub, dims, observed, history, n_candidates, n_local, fit_steps)
        if proposal is not None:
            return _issue(state, 0, proposal)
        return _draw(state, "random", max_attempts)

    return Sampler(init, propose)


def _matches(sub: _Sub, params: Mapping[str, Any]) -> bool:
    return all(k in params for k, _ in sub)


def _encode_u(dims: list, u: np.ndarray) -> np.ndarray:
    """Features of the points at quantiles ``u`` ``(c, d)`` (values snapped as the sampler would)."""
    cols = []
    for i, (key, dist) in enumerate(dims):
        col = u[:, i]
        if isinstance(dist, Choice):
            k = len(dist.values)
            if k > 1:
                idx = np.minimum((col * k).astype(int), k - 1)
                cols.append(np.eye(k)[idx])
            continue
        cols.append(_feature(dist, _inverse_cdf_array(dist, col))[:, None])
    return np.concatenate(cols, axis=1) if cols else np.zeros((len(u), 0))


def _inverse_cdf_array(dist: Distribution, u: np.ndarray) -> np.ndarray:
    """Vectorised :func:`_inverse_cdf` for the Bayesian dimensions (values untidied)."""
    if isinstance(dist, Randint):
        return np.minimum(np.floor(u * dist.upper), dist.upper - 1)
    x = dist.min_value + u * (dist.max_value - dist.min_value)
    if isinstance(dist, (LogUniform, QLogUniform)):
        x = np.exp(x)
    if isinstance(dist, (QUniform, QLogUniform)):
        x = np.round(x / dist.q) * dist.q
    return x


def _encode_params(dims: list, points: list[Mapping[str, Any]]) -> np.ndarray:
    cols = []
    for key, dist in dims:
        if isinstance(dist, Choice):
            k = len(dist.values)
            if k > 1:
                block = np.zeros((len(points), k))
                canon = [jsonable(v) for v in dist.values]
                for r, p in enumerate(points):
                    v = jsonable(_field(key, p[key]))
                    if v in canon:
                        block[r, canon.index(v)] = 1.0
                cols.append(block)
            continue
        x = np.array([float(p[key]) for p in points])
        cols.append(_feature(dist, x)[:, None])
    return np.concatenate(cols, axis=1) if cols else np.zeros((len(points), 0))


def _feature(dist: Distribution, x: np.ndarray) -> np.ndarray:
    if isinstance(dist, Randint):
        f = (x + 0.5) / dist.upper
    elif isinstance(dist, (LogUniform, QLogUniform)):
        f = (np.log(np.maximum(x, 1e-300)) - dist.min_value) / (dist.max_value - dist.min_value)
    else:
        f = (x - dist.min_value) / (dist.max_value - dist.min_value)
    return np.clip(f, -0.5, 1.5)


def _u_of_params(dims: list, params: Mapping[str, Any]) -> np.ndarray:
    """Quantiles that reproduce ``params`` (choices at the centre of their cell)."""
    u = []
    for key, dist in dims:
        if isinstance(dist, Choice):
            canon = [jsonable(v) for v in dist.values]
            v = jsonable(_field(key, params[key]))
            u.append((canon.index(v) + 0.5) / len(canon) if v in canon else 0.5)
        else:
            u.append(float(_feature(dist, np.array([float(params[key])]))[0]))
    return np.clip(np.array(u), 0.0, 1.0 - 1e-12)


def _bayes_step(state: SamplerState, sub: _Sub, dims: list, observed: list, history: History,
                n_candidates: int, n_local: int, fit_steps: int) -> dict | None:
    # Lazy: JAX is imported only when a Bayesian sweep proposes.
    from imgtune.compiler import gp

    points = [p for p, _ in observed]
    y = np.array([m for _, m in observed])
    finished = {_canon(_typed(p)) for _, p, _ in history}
    pending = [dict(items) for _, items in state.issued if items not in finished]
    pending = [_typed(p) for p in pending if _matches(sub, p)]
    x = _encode_params(dims, points + pending)
    y_all = np.concatenate([y, np.full(len(pending), y.min())])
    model = gp.fit(x, y_all, steps=fit_steps)

    rng = np.random.default_rng([state.seed, _STREAM_BAYES, state.count])
    d = len(dims)
    u = rng.random((n_candidates, d))
    top = np.argsort(-y, kind="stable")[:5]
    centres = np.array([_u_of_params(dims, points[i]) for i in top])
    local = centres[rng.integers(len(centres), size=n_local)] + rng.normal(0.0, 0.1, size=(n_local, d))
    is_choice = np.array([isinstance(dist, Choice) for _, dist in dims])
    redraw = (rng.random((n_local, d)) < 0.2) & is_choice[None, :]
    local = np.where(redraw, rng.random((n_local, d)), local)
    u = np.concatenate([u, np.clip(local, 0.0, 1.0 - 1e-12)])
    ei, mean = gp.expected_improvement(model, _encode_u(dims, u))
    seen = _seen(state) | finished
    for idx in np.lexsort((-mean, -ei)):
        params = _realise(sub, u[idx])
        key = _canon(params)
        if key not in seen and violation(params) is None:
            return params
        seen.add(key)
    return None


# -- automode ----------------------------------------------------------------------

#: Width of the random phase's learning-rate range: default / _LR_SPAN .. default * _LR_SPAN.
_LR_SPAN = 4.0


def automode_portfolio(multilabel: bool = False) -> tuple[tuple[str, float], ...]:
    """The ordered ``(model_name, learning_rate)`` pairs AutoMode tries first.

    >>> automode_portfolio()[:3]
    (('seresnext', 0.01), ('vitb16r224', 0.0125), ('resnet50', 0.01))
    >>> automode_portfolio(multilabel=True)[1]
    ('vitb16r224', 0.025)
    """
    return tuple((m, float(f"{MODELS[m].learning_rate(multilabel=multilabel) * f:.4g}"))
                 for m, f in AUTOMODE_PORTFOLIO)


def automode_space(multilabel: bool = False) -> Space:
    """AutoMode's default space: three subspaces by model family.

    ``learning_rate`` is loguniform from default/4 to default*4 (bounds as
    exponents) around the family's default (CNNs 0.01/0.035, ViT small and
    base 0.0125/0.025, ViT large 0.001/0.002, multiclass/multilabel).
    Subspace 0 holds the nine CNNs, 1 ViT small and base, 2 ViT large.
    """
    def lr(model: str) -> LogUniform:
        base = MODELS[model].learning_rate(multilabel=multilabel)
        return LogUniform(min_value=math.log(base / _LR_SPAN), max_value=math.log(base * _LR_SPAN))

    return (
        {"model_name": Choice(values=CNN_MODELS), "learning_rate": lr("resnet50")},
        {"model_name": Choice(values=("vits16r224", "vitb16r224")), "learning_rate": lr("vitb16r224")},
        {"model_name": "vitl16r224", "learning_rate": lr("vitl16r224")},
    )


def automode_sampler(multilabel: bool = False) -> Sampler:
    """AutoMode (``max_trials > 1``, no search space, no sampling algorithm).

    The first proposals are :func:`automode_portfolio` in order; after it, each
    proposal is a random draw from :func:`automode_space` subspaces 0 and 1,
    the subspace chosen with probability proportional to its number of models
    (so every CNN and ViT small/base model is equally likely); ViT large,
    ten times costlier, is tried only once, in the portfolio. The subspace
    index of a proposal is that of :func:`automode_space`. ``init`` takes the
    empty space (``ValidationError`` otherwise); the history is ignored.
    """
    portfolio = automode_portfolio(multilabel)
    default = automode_space(multilabel)
    weights = (len(CNN_MODELS), 2)
    index_of = {m: j for j, sub in enumerate(default) for m in
                (sub["model_name"].values if isinstance(sub["model_name"], Choice) else (sub["model_name"],))}

    def init(space: Space = (), seed: int = 0) -> SamplerState:
        if tuple(space):
            raise ValidationError([Problem("search_space", "AutoMode takes no search space; "
                                                           "set a sampling_algorithm to sweep one")])
        return SamplerState("automode", _normalise(default), int(seed) % 2**64, 0, (), ())

    def propose(state: SamplerState, history: History = ()) -> tuple[Proposal | None, SamplerState]:
        seen = _seen(state)
        for model, rate in portfolio[state.count:]:
            params = {"learning_rate": rate, "model_name": model}
            if _canon(params) in seen:  # pragma: no cover - the portfolio has no repeats
                continue
            return _issue(state, index_of[model], params)
        return _draw(state, "random", MAX_ATTEMPTS, stream=_STREAM_AUTOMODE, subspaces=(0, 1), weights=weights)

    return Sampler(init, propose)
