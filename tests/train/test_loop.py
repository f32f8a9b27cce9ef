"""The loop's pure helpers: cadence and early stopping."""

from __future__ import annotations

import json

import pytest

from imgtune.spec.convert import structure, unstructure
from imgtune.spec.enums import PrimaryMetric
from imgtune.train.loop import due, early_stopping_update, itstime
from imgtune.train.state import EarlyStopping, Progress

ACC = PrimaryMetric.ACCURACY


def _stops_at(values, delay, patience):
    es = EarlyStopping()
    for i, v in enumerate(values, start=1):
        es, stop = early_stopping_update(es, v, metric=ACC, delay=delay, patience=patience)
        if stop:
            return i
    return None


@pytest.mark.parametrize("values, delay, patience, want", [
    # delay 5, patience 5: evaluations 1-5 untracked, 6 sets the best, 7-11 do not improve -> stop at 11
    ([0.1, 0.2, 0.3, 0.4, 0.5, 0.9] + [0.5] * 10, 5, 5, 11),
    # an improvement resets the count
    ([0.5, 0.4, 0.6, 0.6, 0.7, 0.1, 0.1], 0, 2, 7),
    # equal is not better
    ([0.5, 0.5, 0.5], 0, 2, 3),
    # untracked evaluations never stop, however bad
    ([0.9, 0.1, 0.1, 0.1, 0.1], 4, 1, None),
    ([0.9, 0.1, 0.1, 0.1, 0.1, 0.0], 4, 1, 6),
    # NaN never improves
    ([0.3, float("nan"), float("nan")], 0, 2, 3),
    # never stops while improving
    ([0.1 * i for i in range(20)], 0, 1, None),
])
def test_early_stopping_stops_at_the_documented_evaluation(values, delay, patience, want):
    assert _stops_at(values, delay, patience) == want


def test_early_stopping_counters():
    es, _ = early_stopping_update(EarlyStopping(), 0.3, metric=ACC, delay=1, patience=3)
    assert es == EarlyStopping(evaluations=1, best=None, since_best=0)
    es, _ = early_stopping_update(es, 0.2, metric=ACC, delay=1, patience=3)
    assert es == EarlyStopping(evaluations=2, best=0.2, since_best=0)
    es, _ = early_stopping_update(es, 0.1, metric=ACC, delay=1, patience=3)
    assert es == EarlyStopping(evaluations=3, best=0.2, since_best=1)


def test_cadence():
    kw = dict(num_epochs=7, evaluation_frequency=3, checkpoint_frequency=None)
    assert [e for e in range(1, 8) if due(e, **kw).evaluate] == [3, 6, 7]
    assert all(due(e, **kw).best_candidate == due(e, **kw).evaluate for e in range(1, 8))
    kw = dict(num_epochs=7, evaluation_frequency=1, checkpoint_frequency=3)
    assert [e for e in range(1, 8) if due(e, **kw).evaluate] == list(range(1, 8))
    assert [e for e in range(1, 8) if due(e, **kw).best_candidate] == [3, 6, 7]
    # a checkpoint epoch is always evaluated
    kw = dict(num_epochs=8, evaluation_frequency=4, checkpoint_frequency=3)
    assert [e for e in range(1, 9) if due(e, **kw).evaluate] == [3, 4, 6, 8]
    assert [e for e in range(1, 9) if due(e, **kw).best_candidate] == [3, 6, 8]
    assert itstime(5, 5, 100) and itstime(100, 7, 100) and not itstime(100, 7, 100, last=False)


def test_progress_round_trips_through_json():
    p = Progress(data={"epoch": 2, "position": 3}, epochs_done=2, epoch_loss_sum=1.25,
                 early=EarlyStopping(4, 0.5, 1), best={"epoch": 1, "metric": 0.5}, history=({"epoch": 1, "x": 0.5},))
    assert structure(json.loads(json.dumps(unstructure(p))), Progress) == p
