"""Azure's habits in job files, read the sound way. Only YAML (and mappings given to
:func:`imgtune.loads`) go through here: a record built in Python takes exactly what it is given.

* **The unused bandit slack.** azure-ai-ml writes both ``slack_factor`` and ``slack_amount``,
  with ``0.0`` for the one not used; a zero beside a non-zero other is read as unset.
* **Concurrency above the trial count.** The service caps ``max_concurrent_trials`` at
  ``max_trials``; a file that asks for more is read capped, with a warning.

Example:
    >>> normalize({"sweep": {"early_termination": {"type": "bandit", "slack_factor": 0.2, "slack_amount": 0.0}}})
    {'sweep': {'early_termination': {'type': 'bandit', 'slack_factor': 0.2}}}
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from imgtune.spec.checks import is_int, is_number
from imgtune.spec.fields import LIMITS

__all__ = ["normalize"]


def normalize(data: Mapping[str, Any]) -> dict[str, Any]:
    """The job mapping with Azure's quirks read as imgtune means them (see the module doc).

    Anything malformed is left as it is, for the records to report.
    """
    data = dict(data)
    sweep = data.get("sweep")
    if isinstance(sweep, Mapping) and isinstance(sweep.get("early_termination"), Mapping):
        policy = _without_unused_slack(sweep["early_termination"])
        data["sweep"] = {**sweep, "early_termination": policy}
    limits = data.get("limits")
    if isinstance(limits, Mapping):
        data["limits"] = _capped_concurrency(limits)
    return data


def _without_unused_slack(policy: Mapping[str, Any]) -> Mapping[str, Any]:
    kind = policy.get("type")
    if not (isinstance(kind, str) and kind.strip().lower() == "bandit"):
        return policy
    f, a = policy.get("slack_factor"), policy.get("slack_amount")
    if is_number(f) and is_number(a):
        if a == 0 and f != 0:
            return {k: v for k, v in policy.items() if k != "slack_amount"}
        if f == 0 and a != 0:
            return {k: v for k, v in policy.items() if k != "slack_factor"}
    return policy


def _capped_concurrency(limits: Mapping[str, Any]) -> Mapping[str, Any]:
    t, c = limits.get("max_trials"), limits.get("max_concurrent_trials")
    if (is_int(t) and is_int(c) and LIMITS["max_trials"].check(t) is None
            and LIMITS["max_concurrent_trials"].check(c) is None and c > t):
        warnings.warn(f"limits.max_concurrent_trials ({c}) is above max_trials ({t}); capped to {t}",
                      UserWarning, stacklevel=5)
        return {**limits, "max_concurrent_trials": t}
    return limits
