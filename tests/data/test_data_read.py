"""Reading MLTable / JSONL / image-folder inputs, path maps, labels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imgtune.errors import ValidationError
from imgtune.train import data


def test_mltable_folder_and_file_and_uri_file(labelled_images, make_jsonl, make_mltable):
    root, rows = labelled_images
    make_jsonl(root / "train.jsonl", rows)
    make_mltable(root)
    by_folder = data.read_examples(str(root), "mltable")
    by_file = data.read_examples(str(root / "MLTable"), "mltable")
    bare = data.read_examples(str(root / "train.jsonl"), "uri_file")
    assert by_folder == by_file == bare
    assert len(by_folder) == 20
    assert by_folder[3].path == str(root / "img" / "03.png")
    assert by_folder[3].label == "d"
    assert by_folder[3].where == "training_data.image_url[line 4]"
    assert data.class_names(by_folder) == ("a", "b", "c", "d")


def test_relative_path_resolves_against_base_path(labelled_images, make_jsonl):
    root, rows = labelled_images
    make_jsonl(root / "sub" / "t.jsonl", [{"image_url": "../img/00.png", "label": "a"}])
    ex = data.read_examples("sub/t.jsonl", "uri_file", base_path=root)
    assert ex[0].path == str(root / "img" / "00.png")


def test_file_urls_absolute_and_percent_encoded(tmp_path, make_jsonl):
    target = tmp_path / "my pics" / "x.png"
    rows = [
        {"image_url": "file://" + str(target).replace(" ", "%20"), "label": "a"},
        {"image_url": str(target), "label": "a"},
        {"image_url": "file://localhost" + str(target), "label": "a"},
    ]
    ex = data.read_examples(make_jsonl(tmp_path / "t.jsonl", rows), "uri_file")
    assert [e.path for e in ex] == [str(target)] * 3


def test_path_map_longest_prefix_wins_and_is_relative_to_base(tmp_path, make_jsonl):
    rows = [
        {"image_url": "azureml://subscriptions/s/datastores/d/paths/imgs/a%201.png", "label": "a"},
        {"image_url": "azureml://subscriptions/s/datastores/d/paths/special/b.png", "label": "b"},
    ]
    make_jsonl(tmp_path / "t.jsonl", rows)
    pmap = {
        "azureml://subscriptions/s/datastores/d/paths/": "local",
        "azureml://subscriptions/s/datastores/d/paths/special/": "/elsewhere/",
    }
    ex = data.read_examples("t.jsonl", "uri_file", base_path=tmp_path, path_map=pmap)
    assert ex[0].path == str(tmp_path / "local" / "imgs" / "a 1.png")
    assert ex[1].path == "/elsewhere/b.png"


def test_unmapped_remote_urls_all_reported_with_how_to_map(tmp_path, make_jsonl):
    rows = [
        {"image_url": "azureml://subscriptions/s/datastores/d/paths/imgs/1.png", "label": "a"},
        {"image_url": "local.png", "label": "a"},
        {"image_url": "https://example.com/data/2.png", "label": "a"},
    ]
    make_jsonl(tmp_path / "t.jsonl", rows)
    with pytest.raises(ValidationError) as err:
        data.read_examples(tmp_path / "t.jsonl", "uri_file")
    paths = [p.path for p in err.value.problems]
    assert paths == ["training_data.image_url[line 1]", "training_data.image_url[line 3]"]
    msg = err.value.problems[0].message
    assert '"path_map"' in msg and "advanced_settings" in msg
    assert "--path-map azureml://subscriptions/s/datastores/d/paths/=DIR" in msg


def test_bad_manifest_lines_all_reported_with_line_numbers(tmp_path, make_jsonl):
    rows = [
        {"image_url": "a.png", "label": "a"},
        '{"image_url": "b.png", "label": ',  # malformed
        {"image_url": "c.png", "klass": "a"},  # no label column
        {"image_url": "d.png", "label": ["a", "b"]},  # list for multiclass
        {"label": "a"},  # no image_url
        "[1, 2]",  # not an object
        "",  # blank lines are skipped
        {"image_url": "e.png", "label": 3},
    ]
    make_jsonl(tmp_path / "t.jsonl", rows)
    with pytest.raises(ValidationError) as err:
        data.read_examples(tmp_path / "t.jsonl", "uri_file", field="validation_data")
    got = [(p.path, p.message.split(":")[0][:20]) for p in err.value.problems]
    assert [g[0] for g in got] == [
        "validation_data[line 2]",
        "validation_data.label[line 3]",
        "validation_data.label[line 4]",
        "validation_data.image_url[line 5]",
        "validation_data[line 6]",
        "validation_data.label[line 8]",
    ]
    assert "klass" in err.value.problems[1].message  # shows the keys that are there
    assert "multilabel" in err.value.problems[2].message


def test_multilabel_needs_lists(tmp_path, make_jsonl):
    rows = [
        {"image_url": "a.png", "label": ["x", "y", "x"]},
        {"image_url": "b.png", "label": "x"},
        {"image_url": "c.png", "label": []},
        {"image_url": "d.png", "label": ["x", 1]},
    ]
    make_jsonl(tmp_path / "t.jsonl", rows)
    with pytest.raises(ValidationError) as err:
        data.read_examples(tmp_path / "t.jsonl", "uri_file", multilabel=True)
    assert [p.path for p in err.value.problems] == [
        "training_data.label[line 2]", "training_data.label[line 4]",
    ]
    assert '["x"]' in err.value.problems[0].message
    make_jsonl(tmp_path / "t.jsonl", rows[:1] + rows[2:3])
    ex = data.read_examples(tmp_path / "t.jsonl", "uri_file", multilabel=True)
    assert [e.label for e in ex] == [("x", "y"), ()]


def test_custom_target_column(tmp_path, make_jsonl):
    make_jsonl(tmp_path / "t.jsonl", [{"image_url": "a.png", "category": "z"}])
    ex = data.read_examples(tmp_path / "t.jsonl", "uri_file", target_column_name="category")
    assert ex[0].label == "z"


def test_uri_folder_classes_from_sub_folders(tmp_path, make_image):
    for cls, k in (("cat", 2), ("dog", 3)):
        for i in range(k):
            make_image(tmp_path / "d" / cls / f"{i}.png")
    make_image(tmp_path / "d" / "dog" / "nested" / "x.JPG", fmt="JPEG")
    (tmp_path / "d" / "dog" / "notes.txt").write_text("not an image")
    make_image(tmp_path / "d" / "loose.png")  # not in a class folder: ignored
    ex = data.read_examples("d", "uri_folder", base_path=tmp_path)
    assert [e.label for e in ex] == ["cat"] * 2 + ["dog"] * 4
    assert ex[-1].path == str(tmp_path / "d" / "dog" / "nested" / "x.JPG")
    assert ex[0].where == ex[0].path
    multi = data.read_examples("d", "uri_folder", base_path=tmp_path, multilabel=True)
    assert multi[0].label == ("cat",)


def test_uri_folder_empty_classes_reported_together(tmp_path, make_image):
    make_image(tmp_path / "d" / "cat" / "0.png")
    (tmp_path / "d" / "dog").mkdir()
    (tmp_path / "d" / "eel").mkdir()
    (tmp_path / "d" / "eel" / "readme.txt").write_text("x")
    with pytest.raises(ValidationError) as err:
        data.read_examples(tmp_path / "d", "uri_folder")
    assert [p.path for p in err.value.problems] == ["training_data.path[dog]", "training_data.path[eel]"]


def test_missing_inputs_and_bad_type(tmp_path, make_mltable):
    with pytest.raises(ValidationError, match="no MLTable file"):
        data.read_examples(tmp_path, "mltable")
    with pytest.raises(ValidationError, match="file not found"):
        data.read_examples(tmp_path / "none.jsonl", "uri_file")
    with pytest.raises(ValidationError, match="must be one of mltable"):
        data.read_examples(tmp_path, "csv")
    make_mltable(tmp_path, "empty.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValidationError, match="holds no images"):
        data.read_examples(tmp_path, "mltable")
    (tmp_path / "MLTable").write_text("paths: [{folder: ./x}]\n")
    with pytest.raises(ValidationError, match="only '- file: <jsonl>'"):
        data.read_examples(tmp_path, "mltable")


def test_unseen_validation_labels_listed_in_one_error():
    train = [data.Example("a", "cat", "t1"), data.Example("b", "dog", "t2")]
    valid = [
        data.Example("c", "cat", "validation_data.image_url[line 1]"),
        data.Example("d", "eel", "validation_data.image_url[line 2]"),
        data.Example("e", "fox", "validation_data.image_url[line 3]"),
        data.Example("f", "eel", "validation_data.image_url[line 4]"),
    ]
    classes = data.class_names(train)
    data.check_labels(train, classes, "training_data")
    with pytest.raises(ValidationError) as err:
        data.check_labels(valid, classes, "validation_data")
    assert [(p.path, p.message.split()[1]) for p in err.value.problems] == [
        ("validation_data.image_url[line 2]", "'eel'"),
        ("validation_data.image_url[line 3]", "'fox'"),
    ]


def test_write_labels_atomic_and_round_trips(tmp_path):
    path = tmp_path / "out" / "labels.json"
    data.write_labels(path, ("a", "b"))
    data.write_labels(path, ["cat", "dog", "ünï"])
    assert json.loads(path.read_text()) == ["cat", "dog", "ünï"]
    assert data.read_labels(path) == ("cat", "dog", "ünï")
    assert os.listdir(path.parent) == ["labels.json"]  # no temp file left


def test_parse_path_map():
    assert data.parse_path_map(["a://x/=d", "b://y=e=f"]) == {"a://x/": "d", "b://y": "e=f"}
    with pytest.raises(ValidationError) as err:
        data.parse_path_map(["nope", "=x", "y="])
    assert len(err.value.problems) == 3


def test_make_digits_loads_and_is_idempotent(tmp_path):
    from imgtune.datasets import make_digits, make_image_folder

    folder = make_digits(tmp_path / "digits", size=16, n=20, seed=3)
    ex = data.read_examples(folder, "mltable")
    assert len(ex) == 20 and data.class_names(ex) == tuple(str(d) for d in range(10))
    data.validate_images(ex)
    files = sorted((tmp_path / "digits").rglob("*"))
    stamps = {p: p.stat().st_mtime_ns for p in files}
    assert make_digits(tmp_path / "digits", size=16, n=20, seed=3) == folder
    assert {p: p.stat().st_mtime_ns for p in sorted((tmp_path / "digits").rglob("*"))} == stamps
    multi = data.read_examples(
        make_digits(tmp_path / "pairs", size=16, n=12, multilabel=True), "mltable", multilabel=True
    )
    assert all(len(e.label) == 2 and e.label[0] < e.label[1] for e in multi)
    from PIL import Image

    assert Image.open(multi[0].path).size == (16, 16)
    tree = make_image_folder(tmp_path / "tree", size=8, n=20)
    ex = data.read_examples(tree, "uri_folder")
    assert len(ex) == 20 and len(data.class_names(ex)) == 10


def test_reading_and_splitting_never_import_jax(tmp_path, labelled_images, make_jsonl):
    root, rows = labelled_images
    make_jsonl(root / "t.jsonl", rows)
    code = (
        "import sys\n"
        "from imgtune.train import data\n"
        f"ex = data.read_examples({str(root / 't.jsonl')!r}, 'uri_file')\n"
        "s = data.split_examples(ex, seed=1)\n"
        "data.validate_images(ex, workers=2)\n"
        "data.train_transform(data.load_image(ex[0].path), (0, 0, 0), crop_size=8)\n"
        "print(sorted(m for m in ('jax', 'grain', 'sklearn') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_example_paths_are_absolute(tmp_path, make_jsonl):
    make_jsonl(tmp_path / "t.jsonl", [{"image_url": "x.png", "label": "a"}])
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        ex = data.read_examples("t.jsonl", "uri_file")
    finally:
        os.chdir(cwd)
    assert Path(ex[0].path).is_absolute()
