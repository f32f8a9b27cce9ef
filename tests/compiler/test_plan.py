"""compile(job) -> Plan: defaults, limits, samplers, reproducibility, serialisation."""

import os
import subprocess
import sys

import pytest

import imgtune
from imgtune.compiler import compile, dumps_plan, extend, loads_plan, render, resolve_limits

BASE = """
type: automl
task: {task}
target_column_name: label
training_data: {{path: data}}
"""


def job(extra="", task="image_classification"):
    return imgtune.loads(BASE.format(task=task) + extra)


RANDOM = """
limits: {max_trials: 8, max_concurrent_trials: 2}
sweep: {sampling_algorithm: random}
search_space:
  - model_name: {type: choice, values: [resnet18, vitb16r224]}
    learning_rate: {type: loguniform, min_value: -7, max_value: -3}
    number_of_epochs: {type: randint, upper: 20}
"""


def test_single_trial_gets_every_default():
    plan = compile(job())
    assert plan.sampler.type == "fixed" and len(plan.trials) == 1
    p = plan.trials[0].parameters
    values = {a.name: getattr(p, a.name) for a in type(p).__attrs_attrs__}
    assert {k for k, v in values.items() if v is None} == {"checkpoint_frequency", "checkpoint_run_id",
                                                           "extra_parameters"}
    assert values["model_name"] == "seresnext" and values["learning_rate"] == 0.01
    assert values["training_batch_size"] == 78 and values["optimizer"].value == "sgd"
    assert values["random_seed"] == plan.seed == 0
    assert plan.trials[0].subspace is None and plan.trials[0].sampled == {}


@pytest.mark.parametrize("model, task, batch, lr", [
    ("vitb16r224", "image_classification", 48, 0.0125),
    ("vits16r224", "image_classification_multilabel", 128, 0.025),
    ("vitl16r224", "image_classification_multilabel", 10, 0.002),
    ("resnet50", "image_classification_multilabel", 78, 0.035),
])
def test_model_and_task_defaults(model, task, batch, lr):
    p = compile(job(f"training_parameters: {{model_name: {model}}}", task)).trials[0].parameters
    assert (p.training_batch_size, p.validation_batch_size, p.learning_rate) == (batch, batch, lr)


def test_precedence_drawn_then_training_parameters_then_defaults():
    plan = compile(job("""
limits: {max_trials: 2}
training_parameters: {learning_rate: 0.05, momentum: 0.5, optimizer: none}
sweep: {sampling_algorithm: grid}
search_space:
  - learning_rate: {type: choice, values: [0.1, 0.2]}
"""))
    assert [t.parameters.learning_rate for t in plan.trials] == [0.1, 0.2]
    assert {t.parameters.momentum for t in plan.trials} == {0.5}
    assert {t.parameters.optimizer.value for t in plan.trials} == {"sgd"}  # optimizer none = the default


def test_limits_resolved_and_capped():
    limits = resolve_limits(job("limits: {max_concurrent_trials: 4}"))
    assert (limits.max_trials, limits.max_concurrent_trials, limits.timeout_minutes) == (1, 1, 10080)


def test_grid_smaller_than_max_trials_gives_only_the_grid_and_says_so():
    plan = compile(job("""
limits: {max_trials: 10}
sweep: {sampling_algorithm: grid}
search_space:
  - model_name: {type: choice, values: [resnet18, resnet34]}
    optimizer: {type: choice, values: [sgd, adam]}
  - model_name: {type: choice, values: [resnet18]}
    optimizer: {type: choice, values: [sgd]}
"""))
    assert len(plan.trials) == 4  # the second subspace's only point repeats the first's
    assert plan.exhausted and "gives 4 distinct valid trials of max_trials 10" in plan.notes[0]
    assert len({t.parameters for t in plan.trials}) == 4


def test_random_plan_is_seeded_and_ids_unique():
    a, b = compile(job(RANDOM), seed=5), compile(job(RANDOM), seed=5)
    c = compile(job(RANDOM), seed=6)
    assert a == b and a != c
    assert len({t.id for t in a.trials}) == len(a.trials) == 8
    assert all(t.id.startswith(f"{t.index:04d}-") for t in a.trials)
    for t in a.trials:
        p = t.parameters
        assert isinstance(p.number_of_epochs, int) and 1 <= p.number_of_epochs < 20  # randint 0 is redrawn
        assert 1e-7 < p.learning_rate < 0.05


def test_sampling_seed_wins_over_compile_seed():
    plan = compile(job(RANDOM.replace("sampling_algorithm: random", "sampling_algorithm: {type: random, seed: 9}")),
                   seed=1)
    assert plan.seed == 9 and plan.trials[0].parameters.random_seed == 9


def test_same_plan_in_a_fresh_process_with_another_hash_seed(tmp_path):
    path = tmp_path / "job.yml"
    path.write_text(BASE.format(task="image_classification") + RANDOM)
    code = ("import sys, imgtune; from imgtune.compiler import compile, dumps_plan;"
            "sys.stdout.write(dumps_plan(compile(imgtune.load(sys.argv[1]), seed=3)))")
    outs = {subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": h}).stdout for h in ("0", "123")}
    assert len(outs) == 1
    assert outs.pop() == dumps_plan(compile(imgtune.load(path), seed=3))


def test_plan_round_trips_through_yaml_and_json():
    import json

    from imgtune.serialization import unstructure

    plan = compile(job(RANDOM.replace("sweep: {sampling_algorithm: random}",
                                      "sweep: {sampling_algorithm: random, early_termination: "
                                      "{type: median_stopping, delay_evaluation: 2}}")))
    assert loads_plan(dumps_plan(plan)) == plan
    assert loads_plan(json.loads(json.dumps(unstructure(plan)))) == plan


@pytest.mark.parametrize("exhausted", [True, False])
def test_a_version_1_plan_reads_with_exhausted_moved_into_its_field(exhausted):
    import json

    from imgtune.compiler.plan import PLAN_VERSION, Plan
    from imgtune.serialization import structure, unstructure

    grid = (f"limits: {{max_trials: {4 if exhausted else 2}}}\nsweep: {{sampling_algorithm: grid}}\nsearch_space:\n"
            "  - optimizer: {type: choice, values: [sgd, adam]}\n")
    plan = compile(job(grid))
    assert PLAN_VERSION == 2 and plan.version == 2 and plan.exhausted is exhausted
    data = unstructure(plan)
    assert data["exhausted"] is exhausted and "exhausted" not in data["sampler_state"]
    # version 1 kept the flag inside the sampler's state
    v1 = {k: v for k, v in data.items() if k != "exhausted"}
    v1 = {**v1, "version": 1, "sampler_state": {**data["sampler_state"], "exhausted": exhausted}}
    assert loads_plan(v1) == plan
    assert loads_plan(json.dumps(v1)) == plan
    assert structure(v1, Plan) == plan
    assert "exhausted" not in loads_plan(v1).sampler_state
    assert len(extend(loads_plan(v1), count=3).trials) == 2  # an exhausted grid proposes nothing more


def test_bad_plan_text_is_a_validation_error():
    with pytest.raises(imgtune.ValidationError):
        loads_plan("version: 1\nseed: -1\n")


def test_vit_rule_rejects_resolved_trials_that_break_it():
    plan = compile(job("""
limits: {max_trials: 20}
sweep: {sampling_algorithm: grid}
search_space:
  - model_name: vitb16r224
    training_crop_size: {type: choice, values: [224, 256]}
"""))
    # validation_crop_size defaults to 224, so only the 224 training crop is valid for a ViT
    assert [t.parameters.training_crop_size for t in plan.trials] == [224]


def test_automode_portfolio():
    plan = compile(job("limits: {max_trials: 4}"))
    assert plan.sampler.type == "automode"
    assert [t.parameters.model_name for t in plan.trials] == ["seresnext", "vitb16r224", "resnet50", "mobilenetv2"]


def test_bayesian_proposes_the_first_trials_then_extends_from_history():
    plan = compile(job("""
limits: {max_trials: 6, max_concurrent_trials: 2}
sweep: {sampling_algorithm: bayesian}
search_space:
  - learning_rate: {type: uniform, min_value: 0.001, max_value: 0.1}
"""))
    assert plan.sampler.sequential and len(plan.trials) == 2 and "bayesian" in plan.notes[-1]
    history = [(t.subspace, dict(t.sampled), -abs(t.sampled["learning_rate"] - 0.03)) for t in plan.trials]
    bigger = extend(plan, history, count=3)
    assert len(bigger.trials) == 5 and bigger.trials[:2] == plan.trials
    assert extend(plan, history, count=3) == bigger  # pure: same history, same proposals
    assert len(extend(bigger, history, count=10).trials) == 6  # never beyond max_trials


def test_extend_of_a_full_plan_changes_nothing():
    full = compile(job(RANDOM))
    assert extend(full, count=3) == full  # already at max_trials


def test_policy_record_kept_and_functions_derived():
    from imgtune.compiler import make_policy

    plan = compile(job(RANDOM.replace("sweep: {sampling_algorithm: random}",
                                      "sweep: {sampling_algorithm: random, early_termination: "
                                      "{type: bandit, slack_factor: 0.2, evaluation_interval: 0}}")))
    assert isinstance(plan.policy, imgtune.BanditPolicy)
    policy = make_policy(plan.policy, plan.job.primary_metric)
    decisions, _ = policy.decide(policy.init(), {"a": [0.8], "b": [0.6]}, {"a", "b"}, 1)
    assert {d.trial_id: d.stop for d in decisions} == {"a": False, "b": True}


def test_render_fills_every_default():
    text = render(job("training_parameters: {model_name: vitb16r224}"))
    rendered = imgtune.loads(text)
    assert rendered.training_parameters.training_batch_size == 48
    assert rendered.limits.max_trials == 1 and rendered.limits.timeout_minutes == 10080
    assert text.startswith("# imgtune render")
