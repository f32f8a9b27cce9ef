"""MLflow interoperability (imgtune.tracking): trials as MLflow runs, the best model as a pyfunc model.

Every store is local (a sqlite file or a folder under tmp_path); conftest.py turns telemetry off and
fails a test on any connection beyond loopback. The sweeps use the cheap trial function of
tests/runner/synthetic.py; the pyfunc model of a real one (the session's ``trained_run``) is checked
against imgtune.prediction.predict.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

import imgtune
from imgtune import JobStatus

mlflow = pytest.importorskip("mlflow")
pd = pytest.importorskip("pandas")

from imgtune.tracking import BEST_CHILD_TAG, MODEL_NAME, _tracking_uri  # noqa: E402
from test_local_executor import job  # noqa: E402 (tests/runner, on sys.path from conftest.py)

FN = "synthetic:trial"
POLICY = "{type: bandit, slack_factor: 0.1, delay_evaluation: 2}"
NAMED = "experiment_name: digits-sweep\ndisplay_name: lr and model\n"


def client_for(uri):
    return mlflow.MlflowClient(imgtune.tracking.normalize_uri(uri))


def runs_of(uri, experiment="digits-sweep"):
    """(parent, {trial id: child run}) of the only job in ``experiment``."""
    client = client_for(uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, [r.info.run_name for r in parents]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert all(r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for r in children)
    by_trial = {r.data.tags["imgtune.trial_id"]: r for r in children}
    assert len(by_trial) == len(children), "one run per trial"
    return parents[0], by_trial


def history(client, run_id, key):
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def expected_history(trial, key):
    return sorted((h["epoch"], h[key]) for h in trial.history if key in h)


def test_each_trial_is_an_mlflow_run_and_a_resume_logs_nothing_twice(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_FAIL_MODEL", "resnet34")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    sweep = job(NAMED, trials=6, epochs=5, policy=POLICY)
    result = imgtune.run(sweep, tmp_path / "out", trial_fn=FN, mlflow_tracking_uri=uri)
    assert result.status is JobStatus.COMPLETED
    statuses = {t.status for t in result.trials}
    assert {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED} <= statuses, statuses

    client = client_for(uri)
    parent, children = runs_of(uri)
    assert parent.info.run_name == "lr and model" and parent.info.status == "FINISHED"
    assert parent.data.tags["imgtune.output_dir"] == str(tmp_path / "out")
    assert parent.data.params["primary_metric"] == "accuracy" and parent.data.params["sampling_algorithm"] == "random"
    best = result.best_trial
    assert parent.data.tags[BEST_CHILD_TAG] == children[best.id].info.run_id
    assert parent.data.metrics["accuracy"] == pytest.approx(best.best_metric)
    assert set(children) == {t.id for t in result.trials}

    for trial in result.trials:
        run = client.get_run(children[trial.id].info.run_id)
        tags, params = run.data.tags, run.data.params
        assert run.info.run_name == trial.id and tags["imgtune.status"] == trial.status.value
        assert run.info.status == {"Completed": "FINISHED", "Failed": "FAILED", "Canceled": "KILLED"}[
            trial.status.value]
        assert params["model_name"] == trial.parameters.model_name == trial.sampled["model_name"]
        assert float(params["learning_rate"]) == trial.sampled["learning_rate"]
        assert params["number_of_epochs"] == "5" and params["optimizer"] == "sgd"
        assert tags.get("imgtune.stop_reason") == trial.stop_reason
        for key in ("accuracy", "loss"):  # every evaluation, at its epoch
            assert history(client, run.info.run_id, key) == expected_history(trial, key)
        if trial.status is JobStatus.FAILED:
            assert trial.stop_reason.startswith("RuntimeError: synthetic failure") and not run.data.metrics
        if trial.status is JobStatus.CANCELED:
            assert trial.stop_reason.startswith("bandit: ") and len(trial.history) < 5

    # the best model, in the best trial's run; its URI in the result
    uri_model = result.outputs["mlflow_model"]
    with _tracking_uri(mlflow, imgtune.tracking.normalize_uri(uri)):
        info = mlflow.models.get_model_info(uri_model)
    assert info.run_id == children[best.id].info.run_id and "python_function" in info.flavors
    assert client.get_run(children[best.id].info.run_id).info.status == "FINISHED"  # kept its status
    mapping = json.loads((tmp_path / "out" / "mlflow.json").read_text())
    assert mapping["parent_run_id"] == parent.info.run_id and mapping["trials"] == {
        tid: r.info.run_id for tid, r in children.items()}

    # running the finished folder again: the same runs, nothing logged twice, no second model
    again = imgtune.run(sweep, tmp_path / "out", trial_fn=FN, mlflow_tracking_uri=uri)
    assert again.outputs["mlflow_model"] == uri_model
    parent2, children2 = runs_of(uri)
    assert parent2.info.run_id == parent.info.run_id and parent2.info.status == "FINISHED"
    assert {t: r.info.run_id for t, r in children2.items()} == mapping["trials"]
    for trial in result.trials:
        assert history(client, children[trial.id].info.run_id, "accuracy") == expected_history(trial, "accuracy")
    assert len(history(client, parent.info.run_id, "accuracy")) == 1
    models = client.search_logged_models(experiment_ids=[parent.info.experiment_id])
    assert [m.model_id for m in models] == [uri_model.split("/")[-1]]


def test_an_interrupted_sweep_resumes_into_the_same_runs_in_a_folder_store(tmp_path, monkeypatch):
    store = tmp_path / "mlruns"  # a plain path: a folder store
    sweep = job(NAMED, trials=4, concurrent=2, epochs=6)
    monkeypatch.setenv("SYNTH_EPOCH_SECONDS", "0.3")
    cut = imgtune.run(sweep, tmp_path / "out", trial_fn=FN, mlflow_tracking_uri=str(store),
                      time_limit_seconds=1.5)
    interrupted = [t for t in cut.trials if t.status is JobStatus.CANCELED]
    assert interrupted and all(t.resumable for t in interrupted)
    parent, children = runs_of(store)
    assert parent.info.status == "FINISHED" and parent.data.tags["imgtune.status"] == "Completed"
    for t in interrupted:
        run = children[t.id]
        assert run.info.status == "KILLED" and run.data.tags["imgtune.resumable"] == "true"
        assert "timeout" in run.data.tags["imgtune.stop_reason"]
    assert not any(t.status is JobStatus.NOT_STARTED and t.id in children for t in cut.trials)

    monkeypatch.setenv("SYNTH_EPOCH_SECONDS", "0.02")
    done = imgtune.run(sweep, tmp_path / "out", trial_fn=FN, mlflow_tracking_uri=f"file://{store}")
    assert all(t.status is JobStatus.COMPLETED for t in done.trials)
    parent2, children2 = runs_of(store)
    assert parent2.info.run_id == parent.info.run_id
    assert all(children2[t.id].info.run_id == children[t.id].info.run_id for t in interrupted)
    client = client_for(store)
    for t in done.trials:
        run = client.get_run(children2[t.id].info.run_id)
        assert run.info.status == "FINISHED" and run.data.tags["imgtune.resumable"] == "false"
        assert "imgtune.stop_reason" not in run.data.tags
        steps = [step for step, _ in history(client, run.info.run_id, "accuracy")]
        assert steps == [1, 2, 3, 4, 5, 6], (t.id, steps)  # each evaluation once, none lost
        assert history(client, run.info.run_id, "accuracy") == expected_history(t, "accuracy")
    assert done.outputs["mlflow_model"].startswith("models:/")


def test_trials_finished_before_tracking_was_enabled_are_logged_on_the_next_run(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    sweep = job(trials=2, concurrent=2, epochs=2)
    first = imgtune.run(sweep, tmp_path / "out", trial_fn=FN)
    assert not (tmp_path / "out" / "mlflow.json").exists()
    again = imgtune.run(sweep, tmp_path / "out", trial_fn=FN, mlflow_tracking_uri=uri)
    parent, children = runs_of(uri, experiment="imgtune")  # the job has no experiment_name
    assert parent.info.run_name == "out"  # nor a display_name or name: the output folder's
    assert set(children) == {t.id for t in first.trials}
    assert "mlflow_model" in again.outputs
    # imgtune's experiments keep their artifacts beside the sqlite file, not in the current folder
    assert (tmp_path / "mlartifacts" / "imgtune").is_dir()


def test_an_mlflow_failure_is_logged_and_the_sweep_goes_on(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the store is full")

    monkeypatch.setattr(mlflow.MlflowClient, "create_run", broken)
    result = imgtune.run(job(trials=2, epochs=2), tmp_path / "out", trial_fn=FN,
                         mlflow_tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    assert result.status is JobStatus.COMPLETED and "mlflow_model" not in result.outputs
    log = (tmp_path / "out" / "run.log").read_text()
    assert "mlflow: starting failed: RuntimeError: the store is full" in log
    assert "mlflow: logging the best model failed: RuntimeError: the store is full" in log


def test_a_store_that_cannot_be_opened_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(imgtune.ValidationError, match="mlflow_tracking_uri: cannot open the MLflow store"):
        imgtune.run(job(trials=1, concurrent=1), tmp_path / "out", trial_fn=FN, mlflow_tracking_uri="nosuchscheme://x")
    assert not (tmp_path / "out").exists()


# -- without MLflow ---------------------------------------------------------------------------------------


def test_without_mlflow_the_run_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` fails
    with pytest.raises(imgtune.ValidationError) as err:
        imgtune.run(job(trials=1, concurrent=1), tmp_path / "out", trial_fn=FN,
                    mlflow_tracking_uri=f"sqlite:///{tmp_path}/m.db")
    assert str(err.value.problems[0]) == "mlflow_tracking_uri: needs MLflow: pip install 'imgtune[mlflow]'"
    assert not (tmp_path / "out").exists()  # checked before anything is written or trained


def test_without_mlflow_the_cli_exits_2_and_the_module_still_imports(tmp_path):
    (tmp_path / "job.yml").write_text(imgtune.dumps(job(trials=1, concurrent=1)))
    code = f"""
import sys
sys.modules["mlflow"] = None
import imgtune.tracking
assert imgtune.tracking.normalize_uri("/x") == "file:///x"
try:
    from imgtune.tracking import ImgtuneModel
except ImportError as e:
    print("import:", e)
from imgtune.cli import main
sys.exit(main(["run", {str(tmp_path / "job.yml")!r}, "--output", {str(tmp_path / "out")!r}, "--mlflow",
               "sqlite:///{tmp_path}/m.db", "--trial-fn", "synthetic:trial"]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "import: imgtune.tracking.ImgtuneModel needs MLflow: pip install 'imgtune[mlflow]'" in proc.stdout
    assert "needs MLflow: pip install 'imgtune[mlflow]'" in proc.stderr and "Traceback" not in proc.stderr


# -- the CLI ----------------------------------------------------------------------------------------------


def test_imgtune_run_with_mlflow(tmp_path):
    (tmp_path / "job.yml").write_text(imgtune.dumps(job(NAMED, trials=3, epochs=3)))
    store = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "runner"),
                                                         os.environ.get("PYTHONPATH", "")])}
    env.pop("MLFLOW_ALLOW_FILE_STORE")  # imgtune sets it itself for a folder store
    proc = subprocess.run([sys.executable, "-m", "imgtune", "run", str(tmp_path / "job.yml"), "--output",
                           str(tmp_path / "out"), "--trial-fn", FN, "--mlflow", str(store), "--quiet"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    result = imgtune.load_result(tmp_path / "out")
    assert f"mlflow model: {result.outputs['mlflow_model']}" in proc.stdout
    assert "mlflow" not in proc.stderr.lower()  # MLflow's messages go to run.log, not the console
    parent, children = runs_of(store)
    assert set(children) == {t.id for t in result.trials}
    assert parent.data.tags[BEST_CHILD_TAG] == children[result.best_trial.id].info.run_id


# -- a real model, round trip --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tracked_real_run(trained_run, tmp_path_factory):
    """The session's finished real run (tests/conftest.py, read-only) logged to a fresh sqlite store, as
    running its folder again with ``mlflow_tracking_uri`` does at the end of a sweep: the finished trial
    backfilled, then the best model logged. Its small files are copied so that mlflow.json and the log
    lines go to the copy; ``best/`` is read where it is."""
    from imgtune.runner.store import RunStore
    from imgtune.tracking import MlflowTracker

    folder = tmp_path_factory.mktemp("tracked")
    out = folder / "out"
    shutil.copytree(trained_run, out, ignore=shutil.ignore_patterns("trials", "best"))
    uri = f"sqlite:///{folder}/mlflow.db"
    tracker = MlflowTracker(uri)
    store, result = RunStore(out), imgtune.load_result(out)
    # load_result places the copy's paths under the copy, which holds no best/: point at the original's
    result = attrs.evolve(result, outputs={**result.outputs, "best": str(Path(trained_run) / "best")})
    tracker.start(store.load_plan(), store, result.trials, started_at=result.started_at)
    result = tracker.finalize(result)
    tracker.finish(result)
    assert "mlflow_model" in result.outputs, (out / "run.log").read_text()
    return result, tracker.uri, sorted((Path(trained_run).parent / "images").glob("*.png"))[:5]


def test_the_logged_pyfunc_model_predicts_as_imgtune_predict(tracked_real_run, trained_run, tmp_path):
    from imgtune.prediction import predict

    result, uri, images = tracked_real_run
    paths = [str(p) for p in images]
    expected = predict(trained_run, paths)
    assert len(expected) == 5 and all("probs" in e for e in expected)
    parent, children = runs_of(uri, experiment="imgtune-tests-digits")
    child = children[result.best_trial.id]
    assert parent.data.tags[BEST_CHILD_TAG] == child.info.run_id and child.info.status == "FINISHED"
    assert history(client_for(uri), child.info.run_id, "accuracy") == expected_history(result.best_trial, "accuracy")
    with _tracking_uri(mlflow, uri):
        model = mlflow.pyfunc.load_model(result.outputs["mlflow_model"])
        by_run = mlflow.pyfunc.load_model(f"runs:/{child.info.run_id}/{MODEL_NAME}")
    assert model.predict(pd.DataFrame({"image": paths})) == expected
    assert by_run.predict(paths) == expected  # a list of paths works too
    assert model.predict(pd.DataFrame({"image": paths}), params={"top_k": 2}) == predict(trained_run, paths, top_k=2)
    # Azure's scoring input: base64 of the encoded image in an `image` column (bytes or text); or raw bytes
    raw = [p.read_bytes() for p in images[:2]]
    as_bytes = predict(trained_run, raw)
    assert as_bytes[0]["filename"] == "<bytes 0>"
    for mine, theirs in zip(as_bytes, expected):  # the same images (another batch shape: float rounding)
        assert mine["probs"] == pytest.approx(theirs["probs"], abs=1e-6) and mine["labels"] == theirs["labels"]
    assert model.predict(pd.DataFrame({"image": [base64.encodebytes(b) for b in raw]})) == as_bytes
    assert model.predict(pd.DataFrame({"image": [base64.b64encode(b).decode() for b in raw]})) == as_bytes
    assert model.predict(raw) == as_bytes
    # the model stands on its own (a copy of best/): downloaded and loaded by path
    with _tracking_uri(mlflow, uri):
        path = mlflow.artifacts.download_artifacts(result.outputs["mlflow_model"], dst_path=str(tmp_path / "m"))
    assert (Path(path) / "artifacts" / "best" / "labels.json").is_file()
    assert mlflow.pyfunc.load_model(path).predict(pd.DataFrame({"image": paths})) == expected
