"""Round trip: every valid job survives YAML text and files unchanged."""

import tempfile
from pathlib import Path

from hypothesis import given

import imgtune
from imgtune import strategies as its


@given(its.jobs())
def test_loads_dumps_round_trip(job):
    text = imgtune.dumps(job)
    back = imgtune.loads(text)
    assert back == job
    assert imgtune.dumps(back) == text


@given(its.jobs())
def test_round_trip_through_files(job):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "job.yml"
        imgtune.dump(job, path)
        back = imgtune.load(path)
        assert back == job
        assert back.base_path == str(Path(tmp).resolve())
        assert imgtune.dumps(back) == path.read_text(encoding="utf-8")


@given(its.jobs())
def test_round_trip_through_mappings(job):
    assert imgtune.loads(imgtune.to_dict(job)) == job


@given(its.multilabel_jobs())
def test_multilabel_strategy_gives_multilabel_jobs(job):
    assert job.multilabel and imgtune.loads(imgtune.dumps(job)) == job


@given(its.training_parameters(), its.limits(), its.sweeps(), its.search_spaces())
def test_part_strategies_give_valid_records(params, limits, sweep, space):
    for record in (params, limits, sweep, space):
        assert imgtune.serialization.structure(imgtune.serialization.unstructure(record), type(record)) == record
