"""Steps the sweep's pure core (imgtune.runner.sweep) as the shell does, with no processes and no files.

:class:`Sim` feeds events and keeps what a shell would have done: the effects in order, the trials
whose process "runs" (started by ``Launch``, gone at their end, a ``Release`` or a kill), what was
last persisted (``run.json``: the last ``SaveRun``; ``plan.yaml``: the last ``SavePlan``) and the
end (``Done``). ``Finish`` is answered with ``Finalized`` at once unless ``auto_finalize`` is off.
:meth:`Sim.killed` rebuilds the sweep from what was persisted, as running again on the folder does.
"""

from __future__ import annotations

import json

import attrs

import imgtune
from imgtune.compiler import Plan, compile, dumps_plan, extend, loads_plan
from imgtune.compiler.plan import trial_id
from imgtune.runner.results import RunResult
from imgtune.runner.sweep import (
    Answer,
    Begin,
    Done,
    Ended,
    Finalized,
    Finish,
    Launch,
    Lost,
    Notify,
    Release,
    Reported,
    SavePlan,
    SaveRun,
    SweepState,
    Tick,
    initial_state,
    step,
)
from imgtune.serialization import structure, unstructure
from imgtune.spec.enums import JobStatus
from imgtune.train.trial_types import TrialResult

OUT = "/runs/sim"


def make_plan(trials: int = 4, concurrent: int = 2, *, sampler: str = "random", policy: str = "",
              epochs: int = 3) -> Plan:
    """A small plan over learning rates (and, for a grid, three of them)."""
    sweep = "sampling_algorithm: {type: random, seed: 3}" if sampler == "random" else f"sampling_algorithm: {sampler}"
    if policy:
        sweep += f", early_termination: {policy}"
    space = ("learning_rate: {type: choice, values: [0.001, 0.01, 0.1]}" if sampler == "grid"
             else "learning_rate: {type: uniform, min_value: 0.0001, max_value: 0.1}")
    return compile(imgtune.loads(f"""
type: automl
task: image_classification
target_column_name: label
training_data: {{path: data}}
limits: {{max_trials: {trials}, max_concurrent_trials: {concurrent}}}
training_parameters: {{number_of_epochs: {epochs}}}
sweep: {{{sweep}}}
search_space:
  - {space}
"""))


class PoolProposer:
    """A stand-in for Bayesian proposals (no Gaussian process): the next trials of a random plan over
    the same space, recording the history and count of each call."""

    def __init__(self, plan: Plan) -> None:
        job = imgtune.with_sweep(plan.job, sampling_algorithm="random")
        self.pool = compile(job, seed=11).trials
        self.calls: list[tuple[list, int]] = []

    def __call__(self, plan: Plan, history, *, count: int = 1) -> Plan:
        self.calls.append(([(s, dict(d), m) for s, d, m in history], count))
        room = min(count, plan.limits.max_trials - len(plan.trials))
        if room <= 0 or plan.exhausted:
            return plan
        taken = {t.parameters for t in plan.trials}
        new = [t for t in self.pool[len(plan.trials):] if t.parameters not in taken][:room]
        if not new:
            return attrs.evolve(plan, exhausted=True)
        new = [attrs.evolve(t, index=len(plan.trials) + k, id=trial_id(len(plan.trials) + k, t.parameters))
               for k, t in enumerate(new)]
        return attrs.evolve(plan, trials=plan.trials + tuple(new))


class Sim:
    """The core stepped like the shell steps it (see the module doc)."""

    def __init__(self, plan: Plan, previous: RunResult | None = None, *, propose=extend, auto_finalize: bool = True,
                 clock: float = 1000.0, **options) -> None:
        self.options = options
        self.state: SweepState = initial_state(plan, previous, output_dir=OUT, **options)
        self.propose = propose
        self.auto_finalize = auto_finalize
        self.clock = clock
        self.effects: list = []
        self.saved: RunResult | None = previous
        self.plan_saved = plan
        self.alive: set[str] = set()
        self.finishing: RunResult | None = None
        self.done: JobStatus | None = None

    def feed(self, event) -> tuple:
        self.clock = max(self.clock, event.at)
        self.state, effects = step(self.state, event, propose=self.propose)
        self.effects += effects
        for e in effects:
            if isinstance(e, Launch):
                assert e.trial.id not in self.alive, f"{e.trial.id} started twice"
                self.alive.add(e.trial.id)
            elif isinstance(e, Release):
                self.alive.discard(e.trial_id)
            elif isinstance(e, SaveRun):
                self.saved = e.result
            elif isinstance(e, SavePlan):
                self.plan_saved = e.plan
            elif isinstance(e, Finish):
                self.finishing = e.result
            elif isinstance(e, Done):
                self.done = e.status
        if self.finishing is not None and self.auto_finalize and self.done is None:
            self.finalize()
        return effects

    def tick(self, seconds: float = 0.0):
        return self.feed(Tick(at=self.clock + seconds))

    def begin(self):
        return self.feed(Begin(at=self.clock))

    def finalize(self):
        result, self.finishing = self.finishing, None
        return self.feed(Finalized(result=result, at=self.clock))

    def report(self, trial_id: str, value: float, epoch: int | None = None, seconds: float = 1.0) -> str | None:
        """A report of the trial; returns the core's answer (``None``: go on)."""
        record = self.state.record(trial_id)
        epoch = epoch if epoch is not None else len(record.history) + 1
        metric = self.state.result.primary_metric.value
        effects = self.feed(Reported(trial_id=trial_id, evaluation={"epoch": epoch, metric: value},
                                     at=self.clock + seconds))
        answers = [e for e in effects if isinstance(e, Answer)]
        assert [a.trial_id for a in answers] == [trial_id]
        return answers[0].stop_reason

    def end(self, trial_id: str, status: str = "Completed", seconds: float = 1.0, **fields):
        self.alive.discard(trial_id)
        return self.feed(Ended(trial_id=trial_id, result=TrialResult(status=status, **fields), at=self.clock + seconds))

    def lose(self, trial_id: str, reason: str = "the trial process was killed by SIGKILL", seconds: float = 1.0):
        self.alive.discard(trial_id)
        return self.feed(Lost(trial_id=trial_id, reason=reason, at=self.clock + seconds))

    def running(self) -> list[str]:
        return [r.trial_id for r in self.state.running]

    def launched(self) -> list[str]:
        return [e.trial.id for e in self.effects if isinstance(e, Launch)]

    def ended(self) -> list:
        return [e.value for e in self.effects if isinstance(e, Notify) and e.hook == "trial_ended"]

    def persisted(self) -> tuple[Plan, RunResult | None]:
        """``plan.yaml`` and ``run.json`` as the shell wrote them, read back (through JSON and YAML)."""
        plan = loads_plan(dumps_plan(self.plan_saved))
        if self.saved is None:
            return plan, None
        data = json.loads(json.dumps(unstructure(self.saved), indent=1, default=str))
        return plan, structure(data, RunResult)

    def killed(self, **changes) -> Sim:
        """The sweep run again on its folder after a kill (its trials' processes died with it)."""
        plan, previous = self.persisted()
        return Sim(plan, previous, propose=self.propose, auto_finalize=self.auto_finalize, clock=self.clock + 5,
                   **{**self.options, **changes})
