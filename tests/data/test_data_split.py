"""Seeded, stratified splits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imgtune.errors import ValidationError
from imgtune.train import data


def _examples(counts: dict[str, int]) -> list[data.Example]:
    out = []
    for label, k in counts.items():
        out += [data.Example(f"{label}{i}", label, f"line {len(out) + 1}") for i in range(k)]
    return out


def test_sizes_test_first_then_validation_from_the_rest():
    ex = _examples({"a": 50, "b": 30, "c": 20})
    s = data.split_examples(ex, seed=0, validation_size=0.25, test_size=0.2)
    assert (len(s.test), len(s.validation), len(s.train)) == (20, 20, 60)
    assert Counter(e.label for e in s.test) == {"a": 10, "b": 6, "c": 4}
    assert Counter(e.label for e in s.validation) == {"a": 10, "b": 6, "c": 4}
    assert sorted(s.train + s.validation + s.test, key=ex.index) == ex
    assert list(s.train) == sorted(s.train, key=ex.index)  # input order kept


def test_every_class_with_two_images_keeps_one_for_training():
    ex = _examples({"a": 2, "b": 2, "c": 1, "d": 3, "e": 12})
    for seed in range(20):
        s = data.split_examples(ex, seed=seed, validation_size=0.5, test_size=0.4)
        train = Counter(e.label for e in s.train)
        assert all(train[c] >= 1 for c in "abcde"), (seed, train)
        assert train["c"] == 1
        assert len(s.validation) >= 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=8), st.integers(0, 99),
       st.floats(0.05, 0.9), st.floats(0.0, 0.5))
def test_stratified_split_properties(counts, seed, vfrac, tfrac):
    ex = _examples({f"c{i}": k for i, k in enumerate(counts)})
    s = data.split_examples(ex, seed=seed, validation_size=vfrac, test_size=tfrac)
    assert sorted(s.train + s.validation + s.test, key=ex.index) == ex
    train = Counter(e.label for e in s.train)
    assert all(train[f"c{i}"] >= 1 for i in range(len(counts)))


def test_seed_changes_the_split_and_is_reproducible():
    ex = _examples({"a": 20, "b": 20})
    a = data.split_examples(ex, seed=1)
    assert a == data.split_examples(ex, seed=1)
    assert a.validation != data.split_examples(ex, seed=2).validation


def test_multilabel_plain_permutation():
    ex = [data.Example(str(i), ("x",) if i < 15 else (), str(i)) for i in range(20)]
    s = data.split_examples(ex, seed=0, validation_size=0.2, multilabel=True)
    assert len(s.validation) == 4 and len(s.train) == 16
    # not stratified: over seeds, the unlabelled share of validation varies
    shares = {sum(not e.label for e in data.split_examples(ex, seed=k, multilabel=True).validation)
              for k in range(30)}
    assert len(shares) > 1


def test_bad_fractions_reported_together():
    with pytest.raises(ValidationError) as err:
        data.split_examples(_examples({"a": 3}), seed=0, validation_size=1.0, test_size=-0.1)
    assert [p.path for p in err.value.problems] == ["validation_data_size", "test_data_size"]


_SPLIT_SCRIPT = """
import json
from imgtune.train import data
ex = [data.Example(f"{c}{i}", c, "") for c in ("zeta", "alpha", "mid") for i in range(9)]
s = data.split_examples(ex, seed=123, validation_size=0.3, test_size=0.2)
print(json.dumps([[e.path for e in part] for part in (s.train, s.validation, s.test)]))
"""


def test_split_identical_in_fresh_processes_with_different_hash_seeds():
    outs = []
    for hashseed in ("1", "987"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        run = subprocess.run([sys.executable, "-c", _SPLIT_SCRIPT], env=env,
                             capture_output=True, text=True, check=True)
        outs.append(json.loads(run.stdout))
    assert outs[0] == outs[1]
    ex = [data.Example(f"{c}{i}", c, "") for c in ("zeta", "alpha", "mid") for i in range(9)]
    s = data.split_examples(ex, seed=123, validation_size=0.3, test_size=0.2)
    assert outs[0] == [[e.path for e in part] for part in (s.train, s.validation, s.test)]
