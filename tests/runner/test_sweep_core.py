"""The sweep's pure core (imgtune.runner.sweep), stepped event by event: no processes, no clock.

The end-to-end tests (test_local_executor.py, test_observers.py, tests/ray) run the same core through
its shells; here each decision is checked on its own. tests/runner/sweep_sim.py steps the core as the
shell does; test_sweep_properties.py checks its laws over random event orders.
"""

from __future__ import annotations

import attrs
import pytest
from sweep_sim import OUT, PoolProposer, Sim, make_plan

from imgtune.runner.store import RunStore, load_result
from imgtune.runner.sweep import (
    GRACE_SECONDS,
    Answer,
    Begin,
    Done,
    Ended,
    Finalized,
    Finish,
    Interrupted,
    Launch,
    Log,
    Lost,
    Phase,
    PruneCheckpoints,
    Release,
    Reported,
    SaveRun,
    Terminate,
    initial_state,
    step,
)
from imgtune.spec.enums import JobStatus
from imgtune.train.trial_types import TrialResult

BANDIT = "{type: bandit, slack_factor: 0.2}"


def statuses(effects) -> list[JobStatus]:
    return [e.result.status for e in effects if isinstance(e, SaveRun)]


def logs(effects) -> list[str]:
    return [e.line for e in effects if isinstance(e, Log)]


def test_begin_saves_starting_preparing_running_then_fills_the_slots():
    plan = make_plan(trials=4, concurrent=2)
    sim = Sim(plan)
    effects = sim.begin()
    assert statuses(effects)[:3] == [JobStatus.STARTING, JobStatus.PREPARING, JobStatus.RUNNING]
    assert [(e.trial.id, e.slot) for e in effects if isinstance(e, Launch)] == [(plan.trials[0].id, 0),
                                                                               (plan.trials[1].id, 1)]
    assert logs(effects) == ["sweep started: 4 trials planned, 4 to run, up to 2 at a time"]
    assert [t.status for t in sim.saved.trials] == [JobStatus.RUNNING] * 2 + [JobStatus.NOT_STARTED] * 2
    assert sim.saved.log_files == {"run": f"{OUT}/run.log", **{t.id: f"{OUT}/trials/{t.id}/log.txt"
                                                               for t in plan.trials[:2]}}


@pytest.mark.parametrize("concurrent", [1, 2, 3])
def test_concurrency_is_never_exceeded_and_freed_slots_are_reused(concurrent):
    plan = make_plan(trials=7, concurrent=concurrent)
    sim = Sim(plan)
    sim.begin()
    peak = 0
    slots_seen = set()
    while sim.done is None:
        peak = max(peak, len(sim.state.running))
        slots = [r.slot for r in sim.state.running]
        assert len(set(slots)) == len(slots) and set(slots).isdisjoint(sim.state.free_slots)
        assert set(slots) | set(sim.state.free_slots) == set(range(concurrent))
        slots_seen |= set(slots)
        first = sim.running()[-1]  # end the latest one: slots free out of order
        sim.report(first, 0.5)
        effects = sim.end(first)
        launched = [e for e in effects if isinstance(e, Launch)]
        assert len(launched) <= 1 and all(e.slot == next(r.slot for r in sim.state.running
                                                           if r.trial_id == e.trial.id) for e in launched)
    assert peak == concurrent and slots_seen == set(range(concurrent))
    assert sim.launched() == [t.id for t in plan.trials] and sim.done is JobStatus.COMPLETED


def test_a_bandit_stop_stops_exactly_the_trial_it_names_with_its_reason():
    plan = make_plan(trials=3, concurrent=2, policy=BANDIT)
    sim = Sim(plan)
    sim.begin()
    a, b = sim.running()
    assert sim.report(a, 0.8) is None
    reason = sim.report(b, 0.5)
    assert reason == "bandit: 0.5 < 0.6667 = best 0.8 / (1 + 0.2) at interval 1"
    assert f"trial {b} stopped: {reason}" in logs(sim.effects)
    stops = [e for e in sim.effects if isinstance(e, Answer) and e.stop_reason]
    assert stops == [Answer(trial_id=b, stop_reason=reason)]
    assert sim.report(a, 0.9) is None  # the other trial goes on
    assert sim.report(b, 0.95) == reason  # asked to stop: the answer stands, the policy is not asked again
    sim.end(b, "Completed")  # however it ends, the sweep stopped it
    record = sim.state.record(b)
    assert (record.status, record.stop_reason, record.resumable) == (JobStatus.CANCELED, reason, False)
    assert sim.state.record(a).status is JobStatus.RUNNING and a in sim.running()


def test_a_failed_trial_stays_failed_even_when_asked_to_stop():
    sim = Sim(make_plan(trials=2, concurrent=2, policy=BANDIT))
    sim.begin()
    a, b = sim.running()
    sim.report(a, 0.8)
    assert sim.report(b, 0.1)
    sim.lose(b, "the trial process was killed by SIGKILL (out of memory?)")
    record = sim.state.record(b)
    assert record.status is JobStatus.FAILED
    assert record.stop_reason == "the trial process was killed by SIGKILL (out of memory?)"


def test_the_timeout_stops_running_trials_resumably_and_starts_no_new_ones():
    plan = make_plan(trials=5, concurrent=2)
    sim = Sim(plan, time_limit_seconds=60, clock=0.0)
    sim.begin()
    a, b = sim.running()
    assert sim.state.deadline == 60.0
    sim.report(a, 0.3, seconds=10)
    sim.report(b, 0.4, seconds=10)
    assert [e for e in sim.tick(39.0) if not isinstance(e, Log)] == []  # t=59: nothing yet
    effects = sim.tick(1.0)  # t=60
    reason = "timeout: the sweep's time limit (1 minutes) is spent"
    assert logs(effects) == [reason] and not [e for e in effects if isinstance(e, (Launch, SaveRun))]
    assert sim.state.timed_out and sim.state.pending == ()
    assert all(r.stop_reason == reason and r.resumable for r in sim.state.running)
    assert sim.report(a, 0.35) == reason
    effects = sim.end(a, "Canceled", stop_reason="whatever the trial says")
    assert not [e for e in effects if isinstance(e, Launch)]  # its slot stays free
    record = sim.state.record(a)
    assert (record.status, record.stop_reason, record.resumable) == (JobStatus.CANCELED, reason, True)
    assert not [e for e in sim.tick(GRACE_SECONDS - 2) if isinstance(e, Terminate)]
    assert [e for e in sim.tick(GRACE_SECONDS) if isinstance(e, Terminate)] == [Terminate(trial_id=b)]
    assert not [e for e in sim.tick(1.0) if isinstance(e, Terminate)]  # once
    sim.end(b, "Completed")
    assert sim.done is JobStatus.COMPLETED and reason in sim.state.result.message
    assert [t.status for t in sim.state.result.trials] == [JobStatus.CANCELED] * 2 + [JobStatus.NOT_STARTED] * 3
    assert sim.launched() == [a, b]


def test_a_sweep_resumed_with_its_time_spent_starts_nothing():
    sim = Sim(make_plan(trials=3, concurrent=1), time_limit_seconds=60, clock=0.0)
    sim.begin()
    sim.report(sim.running()[0], 0.2, seconds=70)  # past the limit: the answer is given, then the timeout falls
    assert sim.state.timed_out
    again = sim.killed()
    effects = again.begin()
    assert not [e for e in effects if isinstance(e, Launch)]
    assert again.done is JobStatus.COMPLETED and "timeout" in again.state.result.message


def test_ctrl_c_stops_everything_resumably_cancel_requested_then_canceled():
    plan = make_plan(trials=4, concurrent=2)
    sim = Sim(plan, clock=0.0)
    sim.begin()
    a, b = sim.running()
    sim.report(a, 0.5)
    effects = sim.feed(Interrupted(at=sim.clock + 1))
    assert statuses(effects) == [JobStatus.CANCEL_REQUESTED] and "cancel requested" in logs(effects)
    assert sim.state.phase is Phase.CANCELING and sim.saved.message == "canceled by the user (Ctrl-C)"
    assert sim.report(a, 0.6) == "interrupted: canceled by the user"
    effects = sim.end(a, "Canceled", stop_reason="interrupted: canceled by the user")
    assert not [e for e in effects if isinstance(e, Launch)]
    effects = sim.tick(GRACE_SECONDS)  # b never answered: let go of
    assert [e for e in effects if isinstance(e, Release)] == [Release(trial_id=b)]
    assert statuses(effects)[-1] is JobStatus.CANCELED and effects[-1] == Done(status=JobStatus.CANCELED)
    for trial_id in (a, b):
        record = sim.state.record(trial_id)
        assert (record.status, record.resumable, record.stop_reason) == (
            JobStatus.CANCELED, True, "interrupted: canceled by the user")
    assert sim.launched() == [a, b] and not sim.alive
    assert [s for s in statuses(sim.effects) if s not in (JobStatus.RUNNING,)][-2:] == [
        JobStatus.CANCEL_REQUESTED, JobStatus.CANCELED]

    resumed = sim.killed()  # run again: the interrupted trials continue
    resumed.begin()
    assert resumed.running() == [a, b] and [resumed.state.record(t).attempts for t in (a, b)] == [2, 2]


def test_a_second_ctrl_c_stops_waiting():
    sim = Sim(make_plan(trials=2, concurrent=2), clock=0.0)
    sim.begin()
    sim.feed(Interrupted(at=1.0))
    effects = sim.feed(Interrupted(at=2.0))
    assert sorted(e.trial_id for e in effects if isinstance(e, Release)) == sorted(t.id for t in sim.state.plan.trials)
    assert sim.done is JobStatus.CANCELED


def test_ctrl_c_while_finishing_cancels():
    sim = Sim(make_plan(trials=1, concurrent=1), auto_finalize=False)
    sim.begin()
    sim.end(sim.running()[0])
    assert sim.state.phase is Phase.FINISHING and sim.finishing is not None
    effects = sim.feed(Interrupted(at=sim.clock + 1))
    assert statuses(effects) == [JobStatus.CANCEL_REQUESTED, JobStatus.CANCELED] and sim.done is JobStatus.CANCELED


def test_finishing_takes_what_finalized_added_and_fails_only_when_every_trial_failed():
    sim = Sim(make_plan(trials=2, concurrent=1), auto_finalize=False)
    sim.begin()
    sim.lose(sim.running()[0])
    sim.lose(sim.running()[0])
    assert isinstance(sim.effects[-1], Finish) and sim.finishing.status is JobStatus.FINALIZING
    sim.finishing = attrs.evolve(sim.finishing, outputs={"best": "b"}, test_metrics={"accuracy": 1.0}, message="note")
    sim.finalize()
    result = sim.state.result
    assert sim.done is JobStatus.FAILED and result.status is JobStatus.FAILED
    assert (dict(result.outputs), dict(result.test_metrics), result.message) == ({"best": "b"}, {"accuracy": 1.0},
                                                                                  "note")


def test_checkpoints_beyond_the_best_few_are_pruned():
    sim = Sim(make_plan(trials=4, concurrent=1), keep_checkpoints=2)
    sim.begin()
    for value in (0.1, 0.4, 0.3, 0.2):
        trial_id = sim.running()[0]
        sim.report(trial_id, value)
        sim.end(trial_id, checkpoint=f"{OUT}/trials/{trial_id}/train")
    pruned = [p for e in sim.effects if isinstance(e, PruneCheckpoints) for p in e.paths]
    ids = [t.id for t in sim.state.plan.trials]
    assert pruned == [f"{OUT}/trials/{ids[0]}/train", f"{OUT}/trials/{ids[3]}/train"]
    assert [bool(t.checkpoint) for t in sim.state.result.trials] == [False, True, True, False]


def test_a_bayesian_proposal_sees_exactly_the_finished_history():
    plan = make_plan(trials=5, concurrent=2, sampler="bayesian")
    proposer = PoolProposer(plan)
    sim = Sim(plan, propose=proposer)
    sim.begin()
    assert proposer.calls == []  # the plan's first trials run first
    a, b = sim.running()
    sim.report(a, 0.5)
    sim.end(a)
    ta, tb = (sim.state.trial(t) for t in (a, b))
    assert proposer.calls[-1] == ([(ta.subspace, dict(ta.sampled), 0.5)], 1)
    c = sim.running()[-1]
    assert c == sim.state.plan.trials[2].id and sim.plan_saved == sim.state.plan  # plan.yaml rewritten
    sim.lose(b)  # failed: None
    assert proposer.calls[-1] == ([(ta.subspace, dict(ta.sampled), 0.5), (tb.subspace, dict(tb.sampled), None)], 1)
    sim.report(c, 0.7)
    sim.report(c, 0.9)
    sim.end(c, "Canceled", resumable=True, stop_reason="paused")  # interrupted, not finished: not history
    history = proposer.calls[-1][0]
    assert [m for _, _, m in history] == [0.5, None]
    while sim.done is None:
        sim.end(sim.running()[0])
    assert len(sim.state.plan.trials) == 5 and sim.state.plan.trials[:2] == plan.trials


def test_a_grid_never_repeats_a_point_also_when_resumed():
    plan = make_plan(trials=6, concurrent=2, sampler="grid")
    assert len(plan.trials) == 3 and plan.exhausted  # three points
    sim = Sim(plan)
    sim.begin()
    first = sim.running()[0]
    sim.end(first)
    again = sim.killed()  # a trial finished, one interrupted, one never started
    again.begin()
    while again.done is None:
        again.end(again.running()[0])
    launched = sim.launched() + again.launched()
    assert first not in again.launched() and sorted(set(launched)) == sorted(t.id for t in plan.trials)
    points = [dict(t.sampled)["learning_rate"] for t in again.state.plan.trials]
    assert sorted(points) == [0.001, 0.01, 0.1]
    assert again.done is JobStatus.COMPLETED
    rerun = again.killed()
    assert not [e for e in rerun.begin() if isinstance(e, Launch)] and rerun.done is JobStatus.COMPLETED


def test_retry_failed_reruns_failed_trials_only_when_asked():
    sim = Sim(make_plan(trials=2, concurrent=1))
    sim.begin()
    sim.lose(sim.running()[0])
    sim.end(sim.running()[0])
    assert sim.done is JobStatus.COMPLETED
    assert not [e for e in sim.killed().begin() if isinstance(e, Launch)]
    retried = sim.killed(retry_failed=True)
    effects = retried.begin()
    failed = sim.state.plan.trials[0].id
    assert [e.trial.id for e in effects if isinstance(e, Launch)] == [failed]
    assert retried.state.record(failed).attempts == 2


def _decisions(sim: Sim) -> tuple:
    """What the sweep decided: the order trials first started in, every stop answered, the plan's
    trials, and how each trial ended."""
    first_starts = list(dict.fromkeys(sim.launched()))
    stops = [(e.trial_id, e.stop_reason) for e in sim.effects if isinstance(e, Answer) and e.stop_reason]
    ends = [(t.id, t.status, t.stop_reason, [dict(h) for h in t.history]) for t in sim.state.result.trials]
    return first_starts, stops, [t.id for t in sim.state.plan.trials], ends


class World:
    """Deterministic trials: the running trial with the fewest reports acts next (ties: the plan's
    order); each reports ``epochs`` times on its own curve, checkpointing each report, and ends; one
    told to stop ends at once (a kill between the answer and the end is not modelled: a real trial
    would then resume and be judged again at its next report). A trial's checkpoint (its last epoch)
    outlives a kill of the sweep."""

    def __init__(self, epochs: int = 3) -> None:
        self.epochs = epochs
        self.checkpoint: dict[str, int] = {}

    def curve(self, sim: Sim, trial_id: str, epoch: int) -> float:
        index = sim.state.trial(trial_id).index
        return round((0.2 + 0.15 * ((index * 7) % 5)) * epoch / self.epochs, 4)

    def act(self, sim: Sim) -> None:
        running = sorted(sim.running(), key=lambda t: (len(sim.state.record(t).history), sim.state.trial(t).index))
        trial_id = running[0]
        epoch = self.checkpoint.get(trial_id, 0) + 1
        if epoch > self.epochs:
            sim.end(trial_id, "Completed")
            return
        stop = sim.report(trial_id, self.curve(sim, trial_id, epoch), epoch=epoch)
        self.checkpoint[trial_id] = epoch
        if stop:
            sim.end(trial_id, "Canceled", stop_reason=stop)


def _run(sim: Sim, world: World, steps: int | None = None) -> tuple[Sim, int]:
    """Begins, then lets the world act ``steps`` times (``None``: to the end); returns the steps taken."""
    sim.begin()
    k = 0
    while sim.done is None and (steps is None or k < steps):
        world.act(sim)
        k += 1
    return sim, k


@pytest.mark.parametrize("sampler, policy, concurrent", [
    ("random", "{type: bandit, slack_factor: 0.1, delay_evaluation: 1}", 2),
    ("random", "{type: median_stopping}", 3),
    ("random", "{type: truncation_selection, truncation_percentage: 50}", 1),
    ("bayesian", "", 2),  # no policy with Bayesian sampling (as in Azure)
])
def test_resume_from_any_persisted_state_gives_the_same_decisions(tmp_path, sampler, policy, concurrent):
    plan = make_plan(trials=6, concurrent=concurrent, sampler=sampler, policy=policy)
    proposer = (lambda: PoolProposer(plan)) if sampler == "bayesian" else (lambda: None)

    def sim_of(plan, previous=None):
        propose = proposer()
        return Sim(plan, previous, **({"propose": propose} if propose else {}))

    reference, total = _run(sim_of(plan), World())
    expected = _decisions(reference)
    assert bool(expected[1]) == bool(policy), "the policy should stop some trial"
    for cut in range(total):
        world = World()
        first, _ = _run(sim_of(plan), world, steps=cut)
        store = RunStore(tmp_path / f"cut{cut}")  # persisted as the shell does: run.json and plan.yaml
        store.root.mkdir()
        store.save_plan(first.plan_saved)
        if first.saved is not None:
            store.save_result(first.saved)
        previous = load_result(store.root) if store.exists() else None
        second, _ = _run(sim_of(store.load_plan(), previous), world)
        merged = Sim(plan)
        merged.effects = first.effects + second.effects
        merged.state = second.state
        assert _decisions(merged) == expected, f"cut after {cut} steps"
        assert second.done is JobStatus.COMPLETED


def test_rebuilt_from_run_json_saved_after_an_end_the_next_start_is_the_same(tmp_path):
    plan = make_plan(trials=4, concurrent=1, policy=BANDIT)
    sim = Sim(plan)
    sim.begin()
    checked = 0
    while sim.done is None:
        trial_id = sim.running()[0]
        sim.report(trial_id, 0.5)
        effects = sim.end(trial_id)
        saves = [k for k, e in enumerate(effects) if isinstance(e, SaveRun)]
        launches = [e for e in effects if isinstance(e, Launch)]
        if not launches:
            continue
        quiet = effects[saves[0]].result  # saved after the end, before the next start
        store = RunStore(tmp_path / str(checked))
        store.root.mkdir()
        store.save_plan(sim.plan_saved)
        store.save_result(quiet)
        state = initial_state(store.load_plan(), load_result(store.root), output_dir=OUT)
        _, rebuilt = step(state, Begin(at=sim.clock))
        assert [e for e in rebuilt if isinstance(e, Launch)] == launches
        checked += 1
    assert checked == 3


def test_events_that_do_not_apply_change_nothing():
    sim = Sim(make_plan(trials=2, concurrent=1))
    sim.begin()
    idle = sim.state.plan.trials[1].id  # not running
    before = sim.state
    for event in (Reported(trial_id=idle, evaluation={"epoch": 1}, at=5.0),
                  Ended(trial_id=idle, result=TrialResult(status="Completed"), at=5.0),
                  Lost(trial_id="nope", reason="?", at=5.0), Begin(at=5.0), Finalized(result=before.result, at=5.0)):
        assert step(before, event) == (before, ())
    with pytest.raises(TypeError, match="not a sweep event"):
        step(before, "Begin")
