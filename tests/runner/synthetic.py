"""A cheap, deterministic trial function for testing the executor's scheduling.

The metric curve is a function of the trial's parameters and the epoch; it
checkpoints its epoch to ``workdir/checkpoint/state.json`` (atomically) and
resumes from there, like the real trainer. Environment knobs (inherited by the
trial processes): ``SYNTH_EPOCH_SECONDS`` (sleep per epoch), ``SYNTH_FAIL_MODEL``
(a model name whose trials raise), ``SYNTH_CRASH_MODEL`` (whose process dies).
"""

from __future__ import annotations

import json
import math
import os
import time

from imgtune.atomic import write_atomic


def curve(lr: float, epoch: int, epochs: int) -> float:
    """Higher for learning rates near 0.01, rising with epochs."""
    quality = math.exp(-(math.log10(lr) + 2.0) ** 2)
    return round(quality * (1 - math.exp(-epoch / 2)) * (epoch / epochs) ** 0.1, 6)


def trial(context) -> dict:
    p = context.trial.parameters
    if p.model_name == os.environ.get("SYNTH_FAIL_MODEL"):
        raise RuntimeError(f"synthetic failure for {p.model_name}")
    if p.model_name == os.environ.get("SYNTH_CRASH_MODEL"):
        os._exit(9)
    ckpt = context.workdir / "checkpoint"
    ckpt.mkdir(parents=True, exist_ok=True)
    state_file = ckpt / "state.json"
    start = json.loads(state_file.read_text())["epoch"] if state_file.exists() else 0
    best = None
    for epoch in range(start + 1, p.number_of_epochs + 1):
        time.sleep(float(os.environ.get("SYNTH_EPOCH_SECONDS", "0.05")))
        value = curve(p.learning_rate, epoch, p.number_of_epochs)
        best = value if best is None else max(best, value)
        stop = context.report({"epoch": epoch, context.primary_metric: value, "loss": 1 - value})
        write_atomic(state_file, json.dumps({"epoch": epoch}))  # after the report: a resume re-reports
        if stop:
            return {"status": "Canceled", "stop_reason": stop, "checkpoint": str(ckpt)}
    summary = context.workdir / "metrics.json"
    write_atomic(summary, json.dumps({context.primary_metric: best}))
    return {"status": "Completed", "checkpoint": str(ckpt), "artifacts": {"metrics.json": str(summary)}}
