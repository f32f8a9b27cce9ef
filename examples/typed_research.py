"""A researcher's script, fully typed: it passes ``mypy --strict`` and pyright's strict mode.

Builds a job in Python, derives variants with the pure transforms, compiles each into a
plan and inspects the resolved trials; ``python examples/typed_research.py runs/variants``
also trains the smallest variant (a few minutes on a CPU, with the bundled digits).
``tests/static_types/test_static_types.py`` type-checks this file.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import attrs

import imgtune
from imgtune import (
    ImageClassificationJob,
    Input,
    Observation,
    Plan,
    ResolvedTrainingParameters,
    RunResult,
    Study,
    pipe,
    with_limits,
    with_sweep,
    with_training_parameters,
)


def base_job(data: str) -> ImageClassificationJob:
    return ImageClassificationJob(
        training_data=Input(path=data, type="uri_folder"),
        target_column_name="label",
        training_parameters={"model_name": "resnet18", "number_of_epochs": 2},
    )


def variants(job: ImageClassificationJob) -> list[ImageClassificationJob]:
    """One job per optimiser, each a small random sweep over the learning rate."""
    out: list[ImageClassificationJob] = []
    for optimizer in ("sgd", "adamw"):
        out.append(pipe(
            job,
            with_training_parameters(optimizer=optimizer, training_crop_size=32, validation_crop_size=32,
                                     validation_resize_size=36),
            with_limits(max_trials=2, max_concurrent_trials=1),
            with_sweep(sampling_algorithm="random", early_termination=imgtune.BanditPolicy(slack_factor=0.2)),
            imgtune.extend_search_space({"learning_rate": {"type": "loguniform", "min_value": -6, "max_value": -2}}),
        ))
    return out


def learning_rates(plan: Plan) -> list[float]:
    params: Sequence[ResolvedTrainingParameters] = [trial.parameters for trial in plan.trials]
    return [p.learning_rate for p in params]


def describe(plan: Plan) -> str:
    first = plan.trials[0].parameters
    return f"{first.model_name} ({first.optimizer.value}), {len(plan.trials)} trials, batch {first.training_batch_size}"


def ask_and_tell(job: ImageClassificationJob) -> Study:
    """Drives a sweep by hand: each trial scored without training (a stand-in for one's own loop)."""
    study = Study.create(job, seed=0)
    while True:
        trial, study = study.ask()
        if trial is None:
            return study
        rate = trial.parameters.learning_rate
        history = [Observation(epoch, {"accuracy": 1 - rate / epoch}) for epoch in (1, 2)]
        if study.should_stop(trial, history[:1]).stop:
            study = study.tell(trial, history=history[:1])
        else:
            study = study.tell(trial, history=history)


def short_plan(plan: Plan) -> Plan:
    """The first two trials, one epoch each (their ids derived again from their content)."""
    first = plan.select([t.id for t in plan.trials[:2]])
    return first.map_parameters(lambda p: attrs.evolve(p, number_of_epochs=1))


def main(argv: Sequence[str]) -> int:
    from imgtune.datasets import make_image_folder  # scikit-learn is needed only to train

    out = argv[0] if argv else "runs/variants"
    data = make_image_folder(f"{out}/data", n=200)
    jobs = variants(base_job(str(data)))
    for job in jobs:
        plan = imgtune.compile(job, seed=1)
        print(describe(plan), [round(lr, 5) for lr in learning_rates(plan)])
        print("ask/tell:", [(o.trial_id, o.metric) for o in ask_and_tell(job).outcomes])
        print("short:", describe(short_plan(plan)))
    result: RunResult = imgtune.run(jobs[0], f"{out}/sgd", keep_checkpoints=1)
    best = result.best_trial
    print(result.status.value, best.id if best is not None else "no trial finished")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
