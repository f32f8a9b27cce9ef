"""The CLI conventions: exit codes, stderr lines, no tracebacks."""

import subprocess
import sys

import pytest

from imgtune import cli

GOOD = "type: automl\ntask: image_classification\ntarget_column_name: label\ntraining_data: {path: d}\n"


def run(*args):
    return subprocess.run([sys.executable, "-m", "imgtune", *args], capture_output=True, text=True, timeout=60)


def test_validate_good_file(tmp_path):
    f = tmp_path / "job.yml"
    f.write_text(GOOD)
    result = run("validate", str(f))
    assert result.returncode == 0, result.stderr
    assert "valid ImageClassificationJob" in result.stdout


def test_validate_bad_file_exits_2_with_every_problem(tmp_path):
    f = tmp_path / "job.yml"
    f.write_text(GOOD + "limits: {max_trials: 0, max_concurrent_trials: 0}\n")
    result = run("validate", str(f))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: {f}: limits.max_trials: must be in [1, 1000], got 0 (line 5, column 22)",
                     f"error: {f}: limits.max_concurrent_trials: must be in [1, 100], got 0 (line 5, column 48)"]
    assert "Traceback" not in result.stderr


def test_missing_file_exits_2(tmp_path):
    result = run("validate", str(tmp_path / "nope.yml"))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "nope.yml" in result.stderr


def test_help_everywhere():
    assert run("--help").returncode == 0
    result = run("validate", "--help")
    assert result.returncode == 0 and "FILE" in result.stdout


def test_print_normalised_yaml(tmp_path):
    f = tmp_path / "job.yml"
    f.write_text(GOOD.replace("image_classification", "image_classification_multilabel"))
    result = run("validate", "--print", str(f))
    assert result.returncode == 0 and "primary_metric: iou" in result.stdout


def test_other_failures_exit_1_and_debug_shows_traceback(tmp_path, monkeypatch, capsys):
    f = tmp_path / "job.yml"
    f.write_text(GOOD)

    def broken(_):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("imgtune.serialization.load", broken)
    assert cli.main(["validate", str(f)]) == 1
    err = capsys.readouterr().err
    assert "RuntimeError: disk on fire" in err and "Traceback" not in err
    with pytest.raises(RuntimeError):
        cli.main(["--debug", "validate", str(f)])


def test_legacy_file_warns_on_stderr(azure_yaml):
    legacy = azure_yaml / "legacy-2022-05" / "cli-automl-image-classification-multiclass-task-fridge-items.yml"
    result = run("validate", str(legacy))
    assert result.returncode == 0 and "warning: legacy Azure schema migrated" in result.stderr


SWEEP = GOOD + """limits: {max_trials: 3}
sweep: {sampling_algorithm: {type: random, seed: 4}}
search_space:
  - learning_rate: {type: uniform, min_value: 0.001, max_value: 0.01}
"""


def test_plan_prints_a_table_and_saves_without_overwriting(tmp_path):
    import json

    f = tmp_path / "job.yml"
    f.write_text(SWEEP)
    out = tmp_path / "plan.yml"
    result = run("plan", str(f), "--output", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["trial", "subspace", "learning_rate", "start"] and len(lines) == 5
    assert all(line.split()[-1] == "pretrained" for line in lines[1:4])
    assert "3 trials (random, seed 4" in lines[-1]
    from imgtune.compiler import loads_plan

    assert len(loads_plan(out.read_text()).trials) == 3
    again = run("plan", str(f), "--output", str(out))
    assert again.returncode == 2 and "exists" in again.stderr
    as_json = json.loads(run("plan", str(f), "--format", "json").stdout)
    assert as_json["seed"] == 4 and len(as_json["trials"]) == 3


def test_render_prints_a_loadable_job_with_defaults(tmp_path):
    import imgtune

    f = tmp_path / "job.yml"
    f.write_text(GOOD)
    result = run("render", str(f))
    assert result.returncode == 0, result.stderr
    job = imgtune.loads(result.stdout)
    assert job.training_parameters.model_name == "seresnext" and job.limits.timeout_minutes == 10080


COMMANDS = ["validate", "render", "plan", "run", "status", "evaluate", "report", "export", "predict", "weights"]


@pytest.mark.parametrize("module", ["imgtune", "imgtune.cli"])
def test_both_module_entry_points_list_every_command_in_order(module):
    result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ") and line.split()
              and line.split()[0] in COMMANDS]
    assert listed == COMMANDS


def test_version_is_the_package_version():
    import imgtune

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"imgtune {imgtune.__version__}"


def test_importing_the_command_line_loads_no_jax():
    code = ("import sys, imgtune.cli\n"
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'flax', 'optax', 'orbax', "
            "'mlflow', 'ray', 'onnxruntime') or m.startswith(('imgtune.export', 'imgtune.prediction')))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
