"""A trial function that sees one's own hyperparameters (``extra_parameters``): ``--trial-fn own_trial:record_extra``
(importable in trial processes: this folder is on their ``PYTHONPATH``); it loads no JAX."""

from __future__ import annotations

import json


def record_extra(context):
    """A trial function that records the custom hyperparameters its trial was given."""
    extra = dict(context.trial.parameters.extra_parameters or {})
    (context.workdir / "extra.json").write_text(json.dumps(extra))
    context.report({"epoch": 1, context.primary_metric: float(extra["mixup_alpha"]), "loss": 0.0})
    return {"status": "Completed"}
