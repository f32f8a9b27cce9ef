"""The public entry point, :func:`run`: a job, a plan or a job file, run to its result.

It sits above the runner and the layers that watch a run: it checks the arguments, picks the
executor, subscribes the observers (console progress, the HTML report, the end-of-run ONNX export,
MLflow tracking) and hands the plan to :func:`imgtune.runner.run_plan`.

Example (a cheap trial function stands in for training here)::

    result = imgtune.run("job.yaml" or job or plan, "runs/digits")
    result.status, result.best_trial.id, result.best_trial.best_metric
    imgtune.load_result("runs/digits")   # also while the run is going on
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from imgtune.compiler import Plan
from imgtune.errors import Problem, ValidationError
from imgtune.report import ReportWriter
from imgtune.runner import DEFAULT_TRIAL_FN, EXECUTORS, RayOptions, Resources, RunResult, prepare, run_plan
from imgtune.runner.lock import claimed
from imgtune.runner.observers import ProgressCallback, RunObserver
from imgtune.runner.ray_executor import RayLauncher
from imgtune.runner.store import RunStore, checkpoint_source
from imgtune.serialization import load
from imgtune.serialization.overrides import override
from imgtune.spec.records import ImageClassificationJobBase
from imgtune.tracking import MlflowTracker
from imgtune.train.data.assets import check_assets, run_path_map
from imgtune.train.data.check import check_job_data
from imgtune.train.pretrained import cache_root, fetch, plan_models

__all__ = ["checkpoint_problems", "run", "trial_fn_name"]

#: The module that exports a run's best model, run as a process of its own (``python -m``).
EXPORT_MODULE = "imgtune.export.at_end"


class OnnxExportAtEnd(RunObserver):
    """Exports ``best/`` to ``best/model.onnx`` when the sweep ends, if the best trial sets
    ``enable_onnx_normalization``; the result's ``outputs["onnx"]`` is the file.

    The export runs in a process of its own (``python -m imgtune.export.at_end``, which calls
    :func:`imgtune.export.export_onnx`), as the test scoring does, so the sweep's process never
    imports JAX. Its output goes to ``run.log``; a failed export is logged and noted in the result's
    message, and the run still completes.
    """

    def __init__(self) -> None:
        self.store: RunStore | None = None

    def started(self, plan: Plan, store: RunStore, result: RunResult) -> None:
        self.store = store

    def finishing(self, result: RunResult) -> RunResult | None:
        store = self.store
        best = result.best_trial
        if store is None or best is None or not store.layout.best.checkpoint.is_dir() \
                or not best.parameters.enable_onnx_normalization:
            return None
        target = store.layout.best.model_onnx
        with open(store.log_path, "a", encoding="utf-8") as log:
            code = subprocess.run([sys.executable, "-m", EXPORT_MODULE, str(store.root), str(target)],
                                  stdout=log, stderr=log, stdin=subprocess.DEVNULL, check=False).returncode
        if code == 0 and target.is_file():
            store.log(f"best model exported to {target}")
            return attrs.evolve(result, outputs={**result.outputs, "onnx": str(target)})
        store.log(f"exporting the best model to ONNX failed (exit {code}); see above")
        return attrs.evolve(result, message="ONNX export of the best model failed: see run.log")


def trial_fn_name(fn: str | Callable[..., Any]) -> str:
    """The ``"module:function"`` name by which a trial process imports ``fn``.

    A function defined in the script being run (``__main__``), a lambda or a nested function
    cannot be imported by another process: it is refused here, before the sweep starts, with
    what to do instead.

    >>> trial_fn_name("my_trials:train")
    'my_trials:train'
    >>> trial_fn_name(lambda settings, data, workdir: None)
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 1 problem:
      trial_fn: <lambda> is a lambda or a nested function, which a trial process (a separate Python
      process) cannot import: define it with def at the top level of a module, or pass 'module:function'
    """
    if isinstance(fn, str):
        return fn
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if module == "__main__":  # run as ``python -m package.module``: importable under its real name
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        module = spec.name if spec is not None and spec.name != "__main__" else None
        if module is None:
            raise ValidationError([Problem("trial_fn", f"{qualname} is defined in the script being run (__main__), "
                                                       "which a trial process (a separate Python process) cannot "
                                                       "import: move it into a module of its own (e.g. my_trials.py "
                                                       "beside the script), import it from there, and pass it or "
                                                       "'my_trials:" + f"{qualname}'")])
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        raise ValidationError([Problem("trial_fn", f"{qualname} is a lambda or a nested function, which a trial "
                                                   "process (a separate Python process) cannot import: define it "
                                                   "with def at the top level of a module, or pass "
                                                   "'module:function'")])
    return f"{module}:{qualname}"


def _fetch_weights(plan: Plan) -> tuple[str, ...]:
    """Fetches (through the Hugging Face cache) and verifies the ImageNet weights of every model
    the plan can propose, before any trial starts (see :mod:`imgtune.train.pretrained`);
    returns their names.

    Raises:
        ValidationError: Each model whose weights are missing and cannot be downloaded (with the
            ways out), or whose file does not match its hash.
    """
    names = plan_models(plan)
    if names:
        fetch(names)  # huggingface_hub shows a progress bar for each download
    return names


def _log_weights(store: RunStore, names: tuple[str, ...], *, ray: bool) -> None:
    if not names:
        return
    store.log(f"ImageNet weights of {', '.join(names)} verified in {cache_root()}")
    if ray:
        store.log("Ray: each trial reads the weights from its own node's Hugging Face cache (HF_HOME); every node's "
                  "cache is checked before the first trial. On a cluster of several machines point HF_HOME at a "
                  f"folder every node shares, or run `imgtune weights download {' '.join(names)}` on every node")


def checkpoint_problems(plan: Plan) -> list[Problem]:
    """The problems of the plan's ``checkpoint_run_id`` values: each must name an imgtune run folder
    (its best trial's checkpoint), a trial folder or a checkpoint folder (:func:`checkpoint_source`)."""
    job = plan.job
    ids = {t.parameters.checkpoint_run_id for t in plan.trials} | {job.training_parameters.checkpoint_run_id}
    problems = []
    what = "an imgtune run folder (its best trial's checkpoint), a trial folder or a checkpoint folder"
    for cid in sorted(i for i in ids if i):
        folder = checkpoint_source(cid, job.base_path)
        path = "training_parameters.checkpoint_run_id"
        if not folder.exists():
            problems.append(Problem(path, f"{cid!r} does not exist (looked for {folder}); it must be {what}"))
            continue
        from imgtune.train.checkpoints import read_info  # heavy: JAX, only when a checkpoint is named

        try:
            read_info(folder)
        except FileNotFoundError:
            problems.append(Problem(path, f"{cid!r} holds no imgtune checkpoint ({folder}); it must be {what}"))
        except ValidationError as err:
            problems += [p.prefixed(path) for p in err.problems]
    return problems


def run(job_or_plan: ImageClassificationJobBase | Plan | str | os.PathLike[str],
        output_dir: str | os.PathLike[str], *, executor: str = "local", seed: int = 0,
        trial_fn: str | Callable[..., Any] | None = None, retry_failed: bool = False,
        resources: Resources | None = None,
        keep_checkpoints: int = 3, progress: Callable[[RunResult], None] | RunObserver | None = None,
        path_map: Mapping[str, str] | None = None, time_limit_seconds: float | None = None,
        address: str | None = None, ray_options: RayOptions | None = None,
        mlflow_tracking_uri: str | os.PathLike[str] | None = None, check_data: bool | None = None,
        stall_seconds: float | None = None, overrides: Sequence[str] = ()) -> RunResult:
    """Runs a job (or a compiled plan, or a job file) and returns its :class:`RunResult`.

    Running again on the same ``output_dir`` resumes: finished trials are kept,
    interrupted ones continue from their last checkpoint, failed ones are rerun
    only with ``retry_failed``. A job that differs only in its limits extends
    the sweep; any other difference is refused.

    Args:
        job_or_plan: A job, a :class:`~imgtune.compiler.Plan`, or the path of a job YAML file.
        output_dir: The run's folder (see :mod:`imgtune.runner.store` for its layout).
        executor: ``"local"`` (processes on this machine) or ``"ray"`` (Ray actors on a cluster, or on a
            local Ray instance; needs ``pip install 'imgtune[ray]'``; see :mod:`imgtune.runner.ray_executor`).
        seed: The plan's seed when the job's sampling algorithm has none.
        trial_fn: What each trial runs: ``"module:function"`` (default: real training).
        retry_failed: Rerun trials that failed in an earlier run of this folder.
        resources: CPUs and GPUs to share among trials (default: detected).
        keep_checkpoints: Keep the checkpoints of this many best trials.
        progress: Called with the current result whenever something changes (or a
            :class:`~imgtune.runner.observers.RunObserver`, such as
            :class:`~imgtune.runner.progress.ConsoleProgress`). One that raises is logged to
            ``run.log``; the run goes on.
        path_map: URL prefix -> local folder for remote image URLs (adds to the job's own).
        time_limit_seconds: Overrides the job's ``timeout_minutes`` (finer than minutes:
            for tests and CI). Counted over resumes, like the timeout.
        address: The Ray cluster to join (``"host:6379"``, ``"ray://host:10001"``); ``None``: the one
            this process is connected to, else ``RAY_ADDRESS`` or ``ray start``'s on this machine, else a new
            local instance. Ray only.
        ray_options: A :class:`~imgtune.runner.ray_executor.RayOptions` (CPUs and GPUs per trial,
            retries, runtime environment). Ray only.
        mlflow_tracking_uri: Also log to this MLflow store (``sqlite:///mlflow.db``, a folder, or
            any MLflow tracking URI): the job as a parent run in its ``experiment_name``, each trial
            as a child run (params, metrics per evaluation, status, stop reason), the best model as
            an MLflow pyfunc model (its URI in ``outputs["mlflow_model"]``). Needs
            ``pip install 'imgtune[mlflow]'``; see :mod:`imgtune.tracking`.
        check_data: Check the job's data before the first trial (:mod:`imgtune.train.data.check`:
            the inputs can be read, the images exist, enough classes, sizes that fit); default:
            when the trials train (``trial_fn`` unset), not for another trial function.
        stall_seconds: Fail a trial that shows no progress for this long (default: 30 minutes, or
            ``IMGTUNE_STALL_SECONDS``).
        overrides: ``KEY=VALUE`` texts applied to the job (or the job file) first
            (:func:`imgtune.override`; ``imgtune run FILE KEY=VALUE ...``), recorded in the folder's
            ``overrides.yaml``. Not with a plan.

    While it runs, the folder is locked (:mod:`imgtune.runner.lock`): a second run on it is
    refused, saying who holds it. A run refused before its first trial leaves nothing behind.

    Raises:
        ValidationError: Bad arguments, a folder holding another job's run or in use by another
            run, bad data or (with real training) the models' ImageNet weights neither cached nor
            downloadable or not matching their hash (see :mod:`imgtune.train.pretrained`), all listed
            together; or (with ``mlflow_tracking_uri``) no MLflow or a store that cannot be opened;
            all before training.
    Example:
        >>> import tempfile
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "data", "type": "uri_folder"},
        ...                              target_column_name="label")
        >>> # result = run(job, "runs/job"); result.best_trial.best_metric   (trains: minutes)
        >>> run(job, tempfile.mkdtemp(), executor="dask")   # every argument is checked before anything starts
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem:
          executor: must be one of local, ray, got 'dask'
    """
    if executor not in EXECUTORS:
        raise ValidationError([Problem("executor", f"must be one of {', '.join(EXECUTORS)}, got {executor!r}")])
    launcher = None
    if executor == "local" and (address is not None or ray_options is not None):
        raise ValidationError([Problem("address" if address is not None else "ray_options",
                                       "is for executor='ray'")])
    if not isinstance(keep_checkpoints, int) or keep_checkpoints < 1:
        raise ValidationError([Problem("keep_checkpoints", f"must be an integer >= 1, got {keep_checkpoints!r}")])
    tracker = None
    if mlflow_tracking_uri is not None:
        tracker = MlflowTracker(mlflow_tracking_uri)  # says how to install MLflow when it is missing
    if executor == "ray":
        if ray_options is not None and not isinstance(ray_options, RayOptions):
            raise ValidationError([Problem("ray_options", f"must be a RayOptions, got {type(ray_options).__name__}")])
        if ray_options is not None and ray_options.problems():
            raise ValidationError(ray_options.problems())
        if resources is not None:
            raise ValidationError([Problem("resources", "is for executor='local'; on Ray use ray_options="
                                                        "RayOptions(cpus_per_trial=..., gpus_per_trial=...)")])
        launcher = RayLauncher(address, ray_options)  # says how to install ray when it is missing
    fn = trial_fn_name(trial_fn or DEFAULT_TRIAL_FN)  # checked before anything is written
    if overrides:
        if isinstance(job_or_plan, Plan):
            raise ValidationError([Problem("overrides", "apply to a job, not a plan: override the job, then "
                                                        "compile it (or pass the job)")])
        job_or_plan = override(load(job_or_plan) if isinstance(job_or_plan, (str, os.PathLike)) else job_or_plan,
                               overrides)
    with claimed(output_dir) as claim:  # one run per folder; a refused run leaves nothing behind
        plan, store = prepare(job_or_plan, output_dir, seed=seed)
        if overrides:
            store.save_overrides([overrides] if isinstance(overrides, str) else overrides)
        problems: list[Problem] = []
        try:  # data assets resolve through the assets file beside the job too, in the trials as here
            check_assets(plan.job, path_map)
            path_map = run_path_map(plan.job, path_map)
        except ValidationError as e:
            if not (check_data or (check_data is None and trial_fn is None)):  # else reported by the data check
                problems += e.problems
        if check_data or (check_data is None and trial_fn is None):
            try:
                check_job_data(plan.job, [t.parameters for t in plan.trials], path_map=path_map)
            except ValidationError as e:
                problems += e.problems
        problems += checkpoint_problems(plan)  # incremental training's source, before any trial
        weights: tuple[str, ...] = ()
        if fn == DEFAULT_TRIAL_FN:  # real training: the ImageNet weights, fetched here once, never in a trial
            try:
                weights = _fetch_weights(plan)
            except ValidationError as e:
                problems += e.problems
        if problems:  # the data's and the weights' problems together, before any trial starts
            raise ValidationError(problems)
        _log_weights(store, weights, ray=executor == "ray")
        if launcher is not None:
            launcher.weights = weights  # every node's cache is checked when Ray starts, before any trial
        exports = any(t.parameters.enable_onnx_normalization for t in plan.trials)
        if exports and importlib.util.find_spec("jax2onnx") is None:  # found before training, not after it
            raise ValidationError([Problem("training_parameters.enable_onnx_normalization",
                                           "the best model is exported to ONNX at the end, which needs the ONNX "
                                           "packages: pip install 'imgtune[onnx]'")])
        observers: list[RunObserver] = []
        if progress is not None:
            observers.append(progress if isinstance(progress, RunObserver) else ProgressCallback(progress))
        observers.append(ReportWriter())
        if exports or plan.sampler.sequential:  # a Bayesian sweep proposes its later trials as it goes
            observers.append(OnnxExportAtEnd())  # before MLflow: the logged model is a copy of best/
        if tracker is not None:
            observers.append(tracker)
        if launcher is not None:  # Ray's refusals (no node fits a trial, a node lacks the weights) leave nothing
            launcher.open(plan.limits.max_concurrent_trials)
        claim.started = True
        return run_plan(plan, store, trial_fn=fn, retry_failed=retry_failed, resources=resources,
                        keep_checkpoints=keep_checkpoints, path_map=path_map, time_limit_seconds=time_limit_seconds,
                        launcher=launcher, observers=observers, stall_seconds=stall_seconds)
