"""Hostile input costs nothing: every bad job file gets one clear error, naming the file, after bounded work.

Bounded work is asserted as bytes read and nodes walked, never as wall-clock time.
"""

from __future__ import annotations

import io

import pytest
import yaml

import imgtune
from imgtune.serialization import jobs, yaml_text

GOOD = "type: automl\ntask: image_classification\ntarget_column_name: label\ntraining_data: {path: data}\n"


def _bomb(levels: int = 9, width: int = 10) -> str:
    """Nine levels of ten aliases under ``tags``: 10**9 leaves once expanded, a few hundred bytes written."""
    lines = ["tags:", f"  l0: &l0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return GOOD + "\n".join(lines) + "\n"


@pytest.fixture(params=["c", "python"])
def composer(request, monkeypatch):
    """Each test runs with libyaml's C composer and with PyYAML's pure-Python one."""
    if request.param == "c" and not yaml_text.HAVE_LIBYAML:
        pytest.skip("PyYAML without libyaml")
    monkeypatch.setattr(yaml_text, "HAVE_LIBYAML", request.param == "c")
    return request.param


class CountingStream(io.RawIOBase):
    """A readable binary stream that counts the bytes handed out; ``endless`` never ends."""

    def __init__(self, data: bytes = b"", *, endless: bool = False) -> None:
        self.data, self.endless, self.read_bytes = data, endless, 0
        self.name = "counted.yml"

    def read(self, n: int = -1) -> bytes:
        if self.endless:
            chunk = b"a" * (n if n >= 0 else 1 << 20)
        else:
            chunk = self.data[self.read_bytes:] if n < 0 else self.data[self.read_bytes:self.read_bytes + n]
        self.read_bytes += len(chunk)
        return chunk


def test_an_alias_bomb_is_refused_before_anything_walks_its_expansion(tmp_path, composer, monkeypatch):
    walked = []
    real_marks = yaml_text._node_marks
    monkeypatch.setattr(yaml_text, "_node_marks", lambda *a: (walked.append(1), real_marks(*a)))
    f = tmp_path / "bomb.yml"
    f.write_text(_bomb())
    with pytest.raises(imgtune.ValidationError) as err:
        imgtune.load(f)
    (problem,) = err.value.problems
    assert problem.source == str(f) and f"more than {jobs.MAX_JOB_NODES:,} nodes" in problem.message
    assert problem.line is not None and walked == []  # refused while sizing the composed nodes, never expanded


def test_sizing_walks_each_composed_node_at_most_twice():
    """A billion-node expansion is sized by visiting its ~100 composed nodes, not its leaves."""
    walks = []

    class Children(list):
        def __iter__(self):
            walks.append(1)
            return super().__iter__()

    leaf = yaml.ScalarNode("tag:yaml.org,2002:str", "lol")
    level = yaml.SequenceNode("tag:yaml.org,2002:seq", Children([leaf] * 10))
    for _ in range(8):
        level = yaml.SequenceNode("tag:yaml.org,2002:seq", Children([level] * 10))
    assert yaml_text._expanded_size(level, None) == sum(10**k for k in range(10))
    assert len(walks) <= 2 * 9
    with pytest.raises(imgtune.ValidationError, match="more than 1,000 nodes"):
        yaml_text._expanded_size(level, 1000)


def test_a_small_shared_structure_still_loads(composer):
    job = imgtune.loads(GOOD + "tags:\n  a: &x hello\n  b: *x\nsearch_space: [&s {model_name: resnet18}]\n"
                                "sweep: {sampling_algorithm: grid}\n")
    assert job.tags["b"] == "hello" and job.search_space[0].model_name == "resnet18"


def test_a_recursive_alias_is_refused(composer):
    with pytest.raises(imgtune.ValidationError, match="recursive alias"):
        imgtune.loads(GOOD + "tags:\n  a: &x [1, *x]\n")


def test_a_huge_file_is_refused_after_reading_the_limit_plus_one_byte(tmp_path):
    big = GOOD + "tags:\n" + "".join(f"  k{i}: {'x' * 80}\n" for i in range(30_000))  # about 2.6 MB
    stream = CountingStream(big.encode())
    with pytest.raises(imgtune.ValidationError, match="larger than the 1,000,000-byte limit") as err:
        imgtune.load(stream)
    assert stream.read_bytes == jobs.MAX_JOB_BYTES + 1
    assert err.value.problems[0].source == "counted.yml"
    f = tmp_path / "big.yml"
    f.write_text(big)
    with pytest.raises(imgtune.ValidationError, match=str(f)):
        imgtune.load(f)
    assert imgtune.load(f, max_bytes=len(big)).tags["k0"] == "x" * 80  # the limit is the caller's to raise


def test_the_limit_comes_from_the_environment_and_is_checked(monkeypatch):
    monkeypatch.setenv("IMGTUNE_MAX_JOB_BYTES", "50")
    with pytest.raises(imgtune.ValidationError, match="50-byte limit"):
        imgtune.loads(GOOD)
    monkeypatch.setenv("IMGTUNE_MAX_JOB_BYTES", "lots")
    with pytest.raises(imgtune.ValidationError, match="IMGTUNE_MAX_JOB_BYTES: must be a positive integer"):
        imgtune.loads(GOOD)
    with pytest.raises(imgtune.ValidationError, match="max_bytes: must be a positive integer"):
        imgtune.loads(GOOD, max_bytes=0)


def test_endless_input_is_refused_after_a_bounded_read():
    stream = CountingStream(endless=True)
    with pytest.raises(imgtune.ValidationError, match="larger than"):
        imgtune.load(stream, max_bytes=4096)
    assert stream.read_bytes == 4097


def test_dev_zero_is_refused():
    with pytest.raises(imgtune.ValidationError, match="/dev/zero: is larger than"):
        imgtune.load("/dev/zero")


@pytest.mark.parametrize(("data", "line", "column", "message"), [
    (GOOD.encode() + b"tags: {a: \xff\xfe}\n", 5, 11, "is not UTF-8 text: invalid start byte (byte 0xff at offset"),
    (b"type: automl\n  \x00\x01\x02 binary", 2, 3, "not valid YAML: unacceptable character #x0000"),
])
def test_binary_and_badly_encoded_files_name_the_file_and_where(tmp_path, composer, data, line, column, message):
    f = tmp_path / "bad.yml"
    f.write_bytes(data)
    with pytest.raises(imgtune.ValidationError) as err:
        imgtune.load(f)
    (problem,) = err.value.problems
    assert problem.source == str(f) and message in problem.message, problem
    assert (problem.line, problem.column) == (line, column)
    assert str(f) in str(err.value).splitlines()[0]


def test_every_problem_of_a_file_names_it(tmp_path, composer):
    f = tmp_path / "job.yml"
    f.write_text(GOOD + "limits: {max_trials: 0}\nsweep: [\n")
    with pytest.raises(imgtune.ValidationError) as err:
        imgtune.load(f)
    assert all(p.source == str(f) and p.line is not None for p in err.value.problems)
    f.write_text(GOOD + "limits: {max_trials: 0, max_concurrent_trials: 0}\n")
    with pytest.raises(imgtune.ValidationError) as err:
        imgtune.load(f)
    assert [str(p) for p in err.value.problems] == [
        f"{f}: limits.max_trials: must be in [1, 1000], got 0 (line 5, column 22)",
        f"{f}: limits.max_concurrent_trials: must be in [1, 100], got 0 (line 5, column 48)"]


def test_both_composers_read_the_corpus_alike(azure_yaml, monkeypatch):
    if not yaml_text.HAVE_LIBYAML:
        pytest.skip("PyYAML without libyaml")
    for path in sorted(azure_yaml.glob("*.y*ml")):
        text = path.read_text()
        c = yaml_text.parse_with_marks(text, composer="c")
        python = yaml_text.parse_with_marks(text, composer="python")
        assert c == python, path.name
