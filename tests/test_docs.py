"""Docs that run: the README's examples, and the generated parameter table."""

import doctest
import re
import subprocess
import sys
from pathlib import Path

import imgtune
from imgtune.docs import training_parameters_markdown
from imgtune.spec.fields import SEARCHABLE, TRAINING_PARAMETERS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_python_example_runs():
    result = doctest.testfile(str(README), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0


def test_readme_yaml_example_is_a_valid_job():
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    assert blocks
    for block in blocks:
        job = imgtune.loads(block)
        assert imgtune.loads(imgtune.dumps(job)) == job


def test_readme_names_the_two_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text


def test_parameter_table_is_current():
    committed = (ROOT / "docs" / "training-parameters.md").read_text()
    assert committed == training_parameters_markdown(), "run: python -m imgtune.docs docs/training-parameters.md"
    for name in TRAINING_PARAMETERS:
        assert f"| `{name}` |" in committed
    assert len(TRAINING_PARAMETERS) == 34 and len(SEARCHABLE) == 31


def test_example_job_is_valid():
    job = imgtune.load(ROOT / "examples" / "digits" / "job.yaml")
    assert job.limits.max_concurrent_trials == 2 and job.sweep.early_termination is not None


def test_import_imgtune_does_not_import_jax():
    code = "import sys, imgtune; imgtune.load(sys.argv[1]); print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "examples" / "digits" / "job.yaml")],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
