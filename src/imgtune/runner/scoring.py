"""Scores a run's best model on the job's test data, in its own process.

``python -m imgtune.runner.scoring OUTPUT_DIR SPEC_JSON`` (the sweep runs it
at the end when the job has ``test_data`` or ``test_data_size``), so the
sweep's own process never imports JAX. Writes ``best/test_metrics.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from imgtune.atomic import write_atomic
from imgtune.runner.store import RunLayout, model_folder
from imgtune.serialization import loads
from imgtune.train.data.trial_data import job_data

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    run = RunLayout(Path(args[0]))
    spec = json.loads(args[1])
    from imgtune.train.inference import score_examples  # loads JAX: in this process of its own, never the sweep's

    job = loads(run.job.read_text(encoding="utf-8"), base_path=spec.get("base_path"))
    test = job_data(job, seed=spec["seed"], path_map=spec.get("path_map") or {}, validate=False).test
    evaluation = score_examples(model_folder(run.best.root), test, batch_size=spec.get("batch_size", 64))
    content = {"examples": len(test), **evaluation.values}
    if evaluation.confusion_matrix is not None:
        content["confusion_matrix"] = evaluation.confusion_matrix
    if evaluation.per_label is not None:
        content["per_label"] = evaluation.per_label
    write_atomic(run.best.test_metrics, json.dumps(content, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
