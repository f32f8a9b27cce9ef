"""Laws of the sweep's pure core over random event orders (Hypothesis; the profiles of /conftest.py).

A random world drives the core (tests/runner/sweep_sim.py): trials report (NaN too), end however
they like (also against a stop answer), are lost or let go of; time jumps (past the timeout and the
stop grace); Ctrl-C comes, once or twice, also while ``best/`` is assembled; observers add outputs;
the sweep is killed and run again from what it persisted. Whatever the order:

* never more than ``max_concurrent_trials`` run, each in a slot of its own; none starts after the
  timeout or Ctrl-C;
* every start of a trial ends exactly once (or is cut by a kill), and the trials the core believes
  running are exactly those whose process runs;
* statuses only move forward: a trial ``NotStarted`` -> ``Running`` -> terminal, back to
  ``NotStarted`` only as resumable (or failed, with ``retry_failed``); the job's status never goes back
  within a run of the sweep;
* the end state's counts are what happened to each trial.
"""

from __future__ import annotations

import functools
import math
from collections import Counter

import attrs
from hypothesis import event, given
from hypothesis import strategies as st
from sweep_sim import PoolProposer, Sim, make_plan

from imgtune.runner.sweep import Annotated, Interrupted, Launch, Log, Notify, Release, SaveRun
from imgtune.spec.enums import JobStatus

TERMINAL = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)
#: The job's statuses in the order a run of the sweep goes through them.
JOB_RANK = {JobStatus.NOT_STARTED: 0, JobStatus.STARTING: 1, JobStatus.PREPARING: 2, JobStatus.RUNNING: 3,
            JobStatus.FINALIZING: 4, JobStatus.CANCEL_REQUESTED: 5, JobStatus.COMPLETED: 6, JobStatus.FAILED: 6,
            JobStatus.CANCELED: 6}
POLICIES = ["", "{type: bandit, slack_factor: 0.1}", "{type: median_stopping, delay_evaluation: 1}",
            "{type: truncation_selection, truncation_percentage: 40}"]
ACTIONS = ["report"] * 5 + ["end"] * 2 + ["lose", "tick", "tick", "interrupt", "kill", "annotate", "finalize"]


@functools.cache
def plan_of(trials: int, concurrent: int, sampler: str, policy: str):
    return make_plan(trials=trials, concurrent=min(concurrent, trials), sampler=sampler, policy=policy)


@st.composite
def sweeps(draw):
    sampler = draw(st.sampled_from(["random", "grid", "bayesian"]))
    policy = "" if sampler == "bayesian" else draw(st.sampled_from(POLICIES))
    plan = plan_of(draw(st.integers(1, 6)), draw(st.integers(1, 3)), sampler, policy)
    options = {"time_limit_seconds": draw(st.sampled_from([None, 25.0, 90.0])),
               "retry_failed": draw(st.booleans()), "keep_checkpoints": draw(st.integers(1, 3))}
    return plan, options


class Laws:
    """Watches the sims of one sweep (one per run of it) and checks the laws after every step."""

    def __init__(self, sim: Sim) -> None:
        self.sims = [sim]
        self.last: dict[str, tuple[JobStatus, bool]] = {}  # a trial's last saved (status, resumable)
        self.checked = 0  # effects of the current sim already looked at
        self.job_rank = 0
        self.stopped = False  # the timeout fell, or Ctrl-C came, in this run of the sweep
        self.expected: dict[str, JobStatus] = {}
        self.stalled: set[str] = set()  # trials the sweep failed as stalled
        self.retry_failed = sim.options.get("retry_failed", False)
        self.expect_begin(sim)

    @property
    def sim(self) -> Sim:
        return self.sims[-1]

    def expect_begin(self, sim: Sim) -> None:
        """What running the sweep (again) does to each trial: the unfinished ones (and failed ones,
        with retry_failed) will run, the rest keep their status."""
        for record in sim.state.result.trials:
            finished = record.status in TERMINAL and not record.resumable
            if not finished or (self.retry_failed and record.status is JobStatus.FAILED):
                self.expected[record.id] = JobStatus.NOT_STARTED
            else:
                self.expected[record.id] = record.status

    def rerun(self, sim: Sim) -> None:
        self.sims.append(sim)
        self.checked, self.job_rank, self.stopped = 0, 0, False
        self.expect_begin(sim)

    def ending(self, trial_id: str, status: JobStatus, lost: bool = False) -> None:
        """The world ends a trial with ``status``: what the sweep must record (a trial lost after an
        interruption asked it to stop keeps its checkpoint: Canceled)."""
        running = self.sim.state.running_trial(trial_id)
        asked = running is not None and running.stop_reason is not None
        interrupted = lost and running is not None and running.resumable
        self.expected[trial_id] = (JobStatus.CANCELED if interrupted else JobStatus.FAILED if status is JobStatus.FAILED
                                   else JobStatus.CANCELED if asked else status)

    def check(self) -> None:
        sim, state = self.sim, self.sim.state
        concurrency = state.plan.limits.max_concurrent_trials
        slots = [r.slot for r in state.running]
        assert len(slots) <= concurrency and len(set(slots)) == len(slots)
        assert sorted(slots + list(state.free_slots)) == list(range(concurrency))
        assert sim.alive == {r.trial_id for r in state.running}
        launches = Counter(e.trial.id for e in sim.effects if isinstance(e, Launch))
        ends = Counter(e.value.id for e in sim.effects if isinstance(e, Notify) and e.hook == "trial_ended")
        for trial_id in launches | ends:  # each start ends once: it is running, or it ended
            assert launches[trial_id] == ends[trial_id] + (trial_id in sim.alive), trial_id
        for effect in sim.effects[self.checked:]:
            if isinstance(effect, Log) and effect.line.startswith("timeout:"):
                self.stopped = True
            elif isinstance(effect, Launch):
                assert not self.stopped, f"{effect.trial.id} started after the timeout or Ctrl-C"
                self.expected[effect.trial.id] = JobStatus.RUNNING
            elif isinstance(effect, Log) and " stalled: " in effect.line:
                self.stalled.add(effect.line.split()[1])
            elif isinstance(effect, Release):
                self.expected[effect.trial_id] = (JobStatus.FAILED if effect.trial_id in self.stalled
                                                  else JobStatus.CANCELED)
            elif isinstance(effect, SaveRun):
                self.stopped |= effect.result.status is JobStatus.CANCEL_REQUESTED
                rank = JOB_RANK[effect.result.status]
                assert rank >= self.job_rank, f"job status went back to {effect.result.status}"
                self.job_rank = rank
                for record in effect.result.trials:
                    self.moved(record.id, record.status, record.resumable)
        self.checked = len(sim.effects)

    def moved(self, trial_id: str, status: JobStatus, resumable: bool) -> None:
        before = self.last.get(trial_id)
        self.last[trial_id] = (status, resumable)
        if before is None or before[0] is status:
            return
        old, was_resumable = before
        ok = ((old is JobStatus.NOT_STARTED and status is JobStatus.RUNNING)
              or (old is JobStatus.RUNNING and status in TERMINAL)
              or (status is JobStatus.NOT_STARTED and resumable and
                  (old is JobStatus.RUNNING or was_resumable  # a kill, or an interruption
                   or (old is JobStatus.FAILED and self.retry_failed))))
        assert ok, f"trial {trial_id}: {old} (resumable {was_resumable}) -> {status} (resumable {resumable})"


@given(sweeps(), st.data())
def test_random_event_orders_keep_the_laws(sweep, data):
    plan, options = sweep
    propose = PoolProposer(plan) if plan.sampler.sequential else None
    extra = {"propose": propose} if propose else {}
    laws = Laws(Sim(plan, auto_finalize=False, **extra, **options))
    laws.sim.begin()
    laws.check()
    for _ in range(data.draw(st.integers(0, 60), label="steps")):
        sim = laws.sim
        action = data.draw(st.sampled_from(ACTIONS))
        alive = sorted(sim.alive)
        if action in ("report", "end", "lose") and alive:
            trial_id = data.draw(st.sampled_from(alive))
            if action == "report":
                sim.report(trial_id, data.draw(st.one_of(st.floats(0, 1), st.just(math.nan))))
            elif action == "end":
                status = data.draw(st.sampled_from(TERMINAL))
                laws.ending(trial_id, status)
                checkpoint = data.draw(st.sampled_from([None, f"/runs/sim/trials/{trial_id}/train"]))
                sim.end(trial_id, status.value, resumable=status is JobStatus.CANCELED and data.draw(st.booleans()),
                        checkpoint=checkpoint)
            else:
                laws.ending(trial_id, JobStatus.FAILED, lost=True)
                sim.lose(trial_id)
        elif action == "tick":
            sim.tick(data.draw(st.sampled_from([0.0, 1.0, 5.0, 11.0, 30.0])))
        elif action == "interrupt":
            sim.feed(Interrupted(at=sim.clock + 1))
        elif action == "annotate":
            result = attrs.evolve(sim.state.result, outputs={**sim.state.result.outputs, "seen": str(sim.clock)})
            sim.feed(Annotated(result=result, at=sim.clock))
        elif action == "finalize" and sim.finishing is not None:
            sim.finalize()
        elif action == "kill":
            laws.rerun(sim.killed())
            laws.sim.begin()
        laws.check()
    sim = laws.sim
    for _ in range(200):  # to the end: the trials complete, best/ is assembled
        if sim.done is not None:
            break
        if sim.finishing is not None:
            sim.finalize()
        else:
            assert sim.running(), f"nothing runs, nothing finishes, in phase {sim.state.phase}"
            trial_id = sim.running()[0]
            laws.ending(trial_id, JobStatus.COMPLETED)
            sim.end(trial_id)
        laws.check()
    assert sim.done is not None and not sim.alive and not sim.state.running
    event(f"ended {sim.done.value} after {len(laws.sims)} run(s) of the sweep"
          f"{', timed out' if sim.state.timed_out else ''}")
    result = sim.state.result
    assert result.status is sim.done and sim.saved.status is sim.done  # run.json says how it ended
    counts = dict(result.counts())
    assert sum(counts.values()) == len(sim.state.plan.trials) and JobStatus.RUNNING.value not in counts
    assert counts == dict(Counter(laws.expected.get(t.id, JobStatus.NOT_STARTED).value for t in result.trials))
    if sim.done is not JobStatus.CANCELED:
        statuses = [t.status for t in result.trials]
        assert (sim.done is JobStatus.FAILED) == (bool(statuses) and all(s is JobStatus.FAILED for s in statuses))
