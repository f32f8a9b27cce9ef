"""``loads`` raises nothing but ValidationError, whatever it is given."""

from hypothesis import given
from hypothesis import strategies as st

import imgtune
from imgtune import strategies as its

KEYS = st.sampled_from(["type", "task", "limits", "sweep", "search_space", "training_parameters", "training_data",
                        "target_column_name", "max_trials", "sampling_algorithm", "early_termination", "path",
                        "learning_rate", "values", "min_value", "image_model", "$schema", "outputs"]) | st.text(max_size=8)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
                    st.sampled_from(["automl", "image_classification", "random", "bandit", "choice", "uniform(0,1)",
                                     "choice('a', 'b')", "uniform(", "image_classification_multilabel"]))
TREES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                     max_leaves=30)


def total(source):
    try:
        result = imgtune.loads(source)
    except imgtune.ValidationError as err:
        assert err.problems and all(isinstance(p.message, str) for p in err.problems)
        return None
    assert isinstance(result, imgtune.ImageClassificationJobBase)
    return result


@given(st.text())
def test_arbitrary_text(text):
    total(text)


@given(st.dictionaries(KEYS, TREES, max_size=8))
def test_arbitrary_mappings(data):
    total(data)


@given(st.dictionaries(KEYS, TREES, max_size=6).map(lambda d: {"type": "automl", "task": "image_classification", **d}))
def test_arbitrary_jobs_shaped_mappings(data):
    total(data)


@given(its.jobs(), st.data())
def test_mutated_valid_jobs(job, data):
    tree = imgtune.to_dict(job)
    node = tree
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = data.draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, (dict, list)) and child and data.draw(st.booleans()):
            node = child
            continue
        node[key] = data.draw(TREES)
        break
    total(tree)
    total(imgtune.dumps(job).replace(":", data.draw(st.sampled_from([":", "", ": [", ": !!python/none"])), 1))
