"""The fast path of job loading reads what PyYAML reads, and does no work a valid job does not need.

Work is asserted as calls made (marks walked, jobs built), never as wall-clock time.
"""

from __future__ import annotations

import attrs
import pytest

import imgtune
from imgtune.serialization import yaml_text
from imgtune.spec import records

DOCUMENTS = [
    "a: 1\nb: [1, 2.5, 1e-4, .inf, -.nan, 0x1f, 0o7, 017, 1_000, 1:30, -3, +4, 0, yes, No, ~, null, '', \"x\"]\n",
    "c: {d: &x [1, {e: f}], g: *x}\n",  # an alias is the same object
    "<<: {a: 1}\nb: 2\n",  # a merge key
    "a: !!binary aGVsbG8=\nt: 2001-12-14\ns: !!set {x, y}\n",  # other tags
    "- !!str 1\n- !!int '3'\n- !!float '2'\n",
    "= : 1\n",  # the value key
]


@pytest.mark.parametrize("composer", ["c", "python"])
@pytest.mark.parametrize("text", DOCUMENTS)
def test_the_fast_constructor_builds_what_pyyaml_builds(text, composer):
    if composer == "c" and not yaml_text.HAVE_LIBYAML:
        pytest.skip("PyYAML without libyaml")
    loader_cls = yaml_text.CLoader if composer == "c" else yaml_text.Loader
    expected = loader_cls(text).get_single_data()
    data, _ = yaml_text.parse_with_marks(text, composer=composer)
    assert repr(data) == repr(expected)  # repr: nan != nan, and types count (1 vs 1.0 vs True)
    if "&x" in text:
        assert data["c"]["d"] is data["c"]["g"]


@pytest.mark.parametrize("composer", ["c", "python"])
def test_a_mapping_that_repeats_a_key_is_still_refused_with_where(composer):
    if composer == "c" and not yaml_text.HAVE_LIBYAML:
        pytest.skip("PyYAML without libyaml")
    for text, where in (("a:\n  b: 1\n  c: 2\n  b: 3\n", "a.b: duplicate key (line 4, column 3)"),
                        ("1: a\n'1': b\n", "1: duplicate key (line 2, column 1)")):  # keys that print alike
        with pytest.raises(imgtune.ValidationError) as err:
            yaml_text.parse_with_marks(text, composer=composer)
        assert [str(p) for p in err.value.problems] == [where]


def test_marks_are_found_only_when_a_message_needs_them(azure_yaml, monkeypatch):
    walked = []
    real = yaml_text._node_marks
    monkeypatch.setattr(yaml_text, "_node_marks", lambda *a: (walked.append(1), real(*a)))
    for path in sorted(azure_yaml.glob("*.yml")):
        imgtune.load(path)
    assert walked == []
    text = "type: automl\ntask: image_classification\ntarget_column_name: label\ntraining_data: {path: d}\n" \
           "limits:\n  max_trials: 0\n"
    with pytest.raises(imgtune.ValidationError) as err:
        imgtune.loads(text)
    assert str(err.value.problems[0]) == "limits.max_trials: must be in [1, 1000], got 0 (line 6, column 15)"
    assert walked == [1]


def test_a_loaded_job_is_built_and_checked_once(azure_yaml, monkeypatch):
    """``base_path`` is set without building the job a second time (``attrs.evolve`` would)."""
    path = min(azure_yaml.glob("*.yml"))
    built = []
    real = records.ImageClassificationJobBase._check
    monkeypatch.setattr(records.ImageClassificationJobBase, "_check", lambda self, c: (built.append(1), real(self, c)))
    job = imgtune.load(path)
    assert built == [1]
    assert job.base_path == str(path.resolve().parent)
    assert job == attrs.evolve(job, base_path=None) and job.base_path is not None
    assert records.with_base_path(job, "/x").base_path == "/x" and job.base_path == str(path.resolve().parent)


def test_a_file_past_the_first_read_is_read_whole_up_to_the_limit(tmp_path):
    """A job file is read in a small first read; a longer one is read on to the limit plus one byte."""
    body = "type: automl\ntask: image_classification\ntarget_column_name: label\ntraining_data: {path: d}\n" \
           "tags:\n" + "".join(f"  k{i}: v\n" for i in range(8_000))  # about 80 kB
    f = tmp_path / "long.yml"
    f.write_text(body)
    assert len(imgtune.load(f).tags) == 8_000
    with pytest.raises(imgtune.ValidationError, match="larger than the 70,000-byte limit"):
        imgtune.load(f, max_bytes=70_000)
    assert imgtune.load(f, max_bytes=len(body)).tags["k7999"] == "v"
