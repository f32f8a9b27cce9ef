"""The main job on the bundled example: `make demo`.

Builds the example data (scikit-learn's digits as PNG files with an Azure
MLTable manifest under ``examples/digits/``; generated, not committed), then
runs ``examples/digits/job.yaml`` end to end: a random sweep of a few trials,
two at a time, with a bandit policy, and prints the best trial, its
accuracy and its predictions for three images. The run's folder is ``runs/digits`` (delete it to start afresh;
running again resumes or, when finished, just reports).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import imgtune
from imgtune.cli.tables import plan_table
from imgtune.datasets import make_digits
from imgtune.runner.progress import ConsoleProgress

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main() -> int:
    start = time.perf_counter()
    folder = make_digits(HERE / "digits", size=32)
    job = imgtune.load(HERE / "digits" / "job.yaml")
    print(f"data: {folder.relative_to(ROOT)}; job: examples/digits/job.yaml "
          f"({job.limits.max_trials} trials, {job.limits.max_concurrent_trials} at a time)")
    print("the demo trains from scratch (random weights; advanced_settings pretrained: false), so it downloads "
          "nothing; without that setting each trial starts from its model's ImageNet weights, as on Azure")
    print(plan_table(imgtune.compile(job)), flush=True)
    result = imgtune.run(job, ROOT / "runs" / "digits", progress=ConsoleProgress(sys.stdout, job.log_verbosity))
    best = result.best_trial
    seconds = time.perf_counter() - start
    if best is None:
        print(f"no trial finished ({result.status.value}); see {result.output_dir}/run.log")
        return 1
    print(f"\nbest trial {best.id}: {best.parameters.model_name}, learning rate {best.parameters.learning_rate:.4g}, "
          f"{best.parameters.optimizer.value}: validation accuracy {best.best_metric:.4f} (epoch {best.best_epoch})")
    print(f"status {result.status.value} in {seconds:.0f} s; outputs in {Path(result.output_dir).relative_to(ROOT)}")
    images = sorted((HERE / "digits" / "images").glob("*.png"))[:3]
    print("\nthe best model on three images (imgtune predict runs/digits IMAGE... --top-k 2):")
    for p in imgtune.predict(result.output_dir, images, top_k=2):
        probs = ", ".join(f"{label} {prob:.3f}" for label, prob in zip(p["labels"], p["probs"]))
        print(f"  {Path(p['filename']).name}: {probs}")
    return 0 if result.status is imgtune.JobStatus.COMPLETED else 1


if __name__ == "__main__":
    sys.exit(main())
