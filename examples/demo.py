"""The main job on the bundled example: `make demo`.

It builds the example data (scikit-learn's digits as PNG files with an Azure
MLTable manifest under ``examples/digits/``; generated, not committed), loads
``examples/digits/job.yaml``, reads and checks the data through imgtune's input
pipeline, splits it with the job's seed and decodes one training batch. Each
later stage (compile, train, run) extends this script as it lands.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import imgtune
from imgtune.datasets import make_digits

HERE = Path(__file__).resolve().parent


def main() -> int:
    start = time.perf_counter()
    folder = make_digits(HERE / "digits", size=32)
    job_file = HERE / "digits" / "job.yaml"
    job = imgtune.load(job_file)
    print(f"{job_file.relative_to(HERE.parent)}: a valid {type(job).__name__}, primary metric "
          f"{job.primary_metric.value}, up to {job.limits.max_trials} trials, "
          f"{job.limits.max_concurrent_trials} at a time, {len(job.search_space)} subspace(s)")

    from imgtune.train.data import class_names, read_examples, split_examples, train_iterator, validate_images

    data = job.training_data
    examples = read_examples(data.path, data.type, base_path=job.base_path,
                             target_column_name=job.target_column_name, multilabel=job.multilabel)
    validate_images(examples, workers=2)
    classes = class_names(examples)
    seed = job.sweep.sampling_algorithm.seed or 0
    split = split_examples(examples, seed=seed, validation_size=job.validation_data_size or 0.2,
                           test_size=job.test_data_size or 0.0, multilabel=job.multilabel)
    print(f"data: {len(examples)} images in {folder.relative_to(HERE.parent)}, {len(classes)} classes "
          f"({', '.join(classes)}); split with seed {seed}: {len(split.train)} train, "
          f"{len(split.validation)} validation")
    params = job.training_parameters
    with train_iterator(split.train, classes, multilabel=job.multilabel, batch_size=params.training_batch_size,
                        seed=seed, crop_size=params.training_crop_size, num_epochs=1) as batches:
        batch = next(iter(batches))
    print(f"first training batch: images {tuple(batch.images.shape)} {batch.images.dtype}, "
          f"labels {tuple(batch.labels.shape)}")
    from imgtune.commands import plan_table

    plan = imgtune.compile(job)
    print(f"--- the plan ({time.perf_counter() - start:.1f} s) ---")
    print(plan_table(plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
