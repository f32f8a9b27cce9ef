"""With the Ray executor, the driver checks every node's Hugging Face cache before any trial.

The driver fetches the weights into its own cache; each trial reads its own node's. A node whose
cache lacks them refuses the run, naming the node and the models, before a trial starts. A node
without the cache is made here by giving Ray's workers another ``HF_HOME`` (``runtime_env``), as a
second machine would have. Like every test that starts Ray, it runs in a loopback-only network
namespace (see ``test_ray_executor``).
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from test_ray_executor import PROBLEM  # the reason Ray cannot start here, if any

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
sys.path[:0] = [{models!r}, {models!r} + "/runner"]
import ray
ray.init(address="local", num_cpus=1, include_dashboard=False, _temp_dir=sys.argv[1])
from models.test_pretrained import put_in_cache
from pathlib import Path
from imgtune.errors import ValidationError
from imgtune.runner import RayOptions
from imgtune.runner.ray_executor import RayLauncher

put_in_cache(Path({shared!r}), "resnet18", b"weights")
elsewhere = {{"env_vars": {{"HF_HOME": {empty!r}, "HF_HUB_CACHE": {empty!r} + "/hub"}}}}
for options in (RayOptions(), RayOptions(runtime_env=elsewhere)):  # the driver's cache, then another one
    launcher = RayLauncher(options=options)
    launcher.weights = ("resnet18",)
    try:
        launcher.open(1)
        launcher.close()
        print("ok")
    except ValidationError as err:
        print("refused", str(err).replace(chr(10), " | "))

import imgtune  # a run Ray refuses (no node fits a trial) leaves no folder behind
job = imgtune.ImageClassificationJob(training_data={{"path": "data"}}, target_column_name="label")
try:
    imgtune.run(job, {out!r}, trial_fn="synthetic:trial", executor="ray", ray_options=RayOptions(cpus_per_trial=64))
except ValidationError as err:
    print("refused-run", str(err).replace(chr(10), " | "))
"""


@pytest.mark.skipif(PROBLEM is not None, reason=PROBLEM or "")
def test_a_node_without_the_weights_refuses_the_run_before_any_trial_and_leaves_nothing(tmp_path):
    home, empty = tmp_path / "hf", tmp_path / "hf-empty"
    script = tmp_path / "check.py"
    out_dir = tmp_path / "out"
    script.write_text(SCRIPT.format(models=str(ROOT / "tests"), shared=str(home / "hub"), empty=str(empty),
                                    out=str(out_dir)))
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # a short path: Ray's socket paths must fit
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT / "tests"),
           "HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub")}
    try:
        out = subprocess.run(["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                              sys.executable, str(script), temp], check=False, env=env, capture_output=True,
                             text=True, timeout=180)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line for line in out.stdout.splitlines() if line.startswith(("ok", "refused"))]
    assert lines[2].startswith("refused-run") and "no node of the Ray cluster has 64 CPUs" in lines[2], lines
    assert not out_dir.exists()  # refused before the run started: nothing written
    assert lines[0] == "ok"  # the node shares the driver's cache
    assert lines[1].startswith("refused")
    assert "ray node " in lines[1] and "resnet18 are not in its Hugging Face cache" in lines[1]
    assert str(empty) in lines[1] and "imgtune weights download resnet18" in lines[1]
