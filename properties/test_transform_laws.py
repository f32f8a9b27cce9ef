"""Transforms never change their input, and a pipeline equals applying them one by one."""

from hypothesis import given
from hypothesis import strategies as st

import imgtune
from imgtune import strategies as its


def transforms():
    return st.one_of(
        its.limits().map(lambda lim: imgtune.with_limits(max_trials=lim.max_trials,
                                                         max_concurrent_trials=lim.max_concurrent_trials,
                                                         timeout_minutes=lim.timeout_minutes)),
        its.training_parameters().map(lambda tp: imgtune.with_training_parameters(**tp.set_fields())),
        st.sampled_from(["accuracy", "auc_weighted", "NormMacroRecall", None]).map(imgtune.with_primary_metric),
        st.sampled_from(["a", "b", None]).map(lambda n: imgtune.with_metadata(name=n, tags={"k": n or ""})),
        st.just(imgtune.with_sweep(early_termination=None)),
        st.just(imgtune.replace_search_space(None)),
        st.floats(0.05, 0.5).map(lambda s: imgtune.with_data(validation_data=None, validation_data_size=s)),
    )


def safe(fn, job):
    try:
        return fn(job)
    except imgtune.ValidationError:
        return job  # a transform may produce an invalid combination; that is reported, not applied


@given(its.jobs(), st.lists(transforms(), max_size=5))
def test_transforms_never_change_their_input_and_pipe_equals_sequence(job, fns):
    before = imgtune.dumps(job)
    step = job
    applied = []
    for fn in fns:
        nxt = safe(fn, step)
        if nxt is not step:
            applied.append(fn)
        step = nxt
    assert imgtune.dumps(job) == before
    assert imgtune.pipe(job, *applied) == step
