"""Deliberate mistakes: each line marked ``# mistake`` must be reported by mypy and by pyright.

Never run (the function is only defined); ``test_static_types.py`` type-checks it. Unmarked
lines are correct and must not be reported.
"""

from __future__ import annotations

import imgtune
from imgtune import (
    ImageClassificationJob,
    Input,
    Limits,
    TrainingParameters,
    extend_search_space,
    pipe,
    with_limits,
    with_primary_metric,
    with_training_parameters,
)


def mistakes(job: ImageClassificationJob, plan: imgtune.Plan) -> None:
    with_limits(job, max_trial=3)  # mistake: misspelt keyword
    with_training_parameters(job, lerning_rate=0.1)  # mistake: misspelt training parameter
    ImageClassificationJob(trainig_data=Input(path="d"), target_column_name="label")  # mistake: misspelt field
    print(job.training_parameters.lerning_rate)  # mistake: misspelt attribute
    with_limits(job, max_trials="3")  # mistake: a string for an int
    with_limits(max_trial=3)  # mistake: misspelt keyword, curried form
    with_training_parameters(optimizer=3)  # mistake: an int for an optimizer
    Input(path="d", type=3)  # mistake: an int for an input type
    TrainingParameters(number_of_epochs=2.5)  # mistake: a float for an int
    Limits(max_trials=None, timeout=5)  # mistake: unknown field
    imgtune.wiht_limits(job)  # mistake: misspelt function
    pipe(job, with_limits(max_trials=2), 3)  # mistake: not a function
    with_primary_metric(job, 3)  # mistake: an int for a metric
    extend_search_space(job, 5)  # mistake: an int for a subspace
    imgtune.load_result(3)  # mistake: an int for a folder
    imgtune.run(job)  # mistake: the output folder is missing
    batch: str = plan.trials[0].parameters.training_batch_size  # mistake: an int is not a str
    rate: float = job.training_parameters.learning_rate  # mistake: unresolved: may be None
    print(batch, rate)
    print(plan.trials[0].parameters.learning_rate + 1.0)  # resolved: a float, not Optional
    print(job.sweep.sampling_algorithm)  # mistake: the sweep may be None
