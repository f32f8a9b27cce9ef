"""The input pipeline: job data -> examples -> splits -> numpy batches.

No JAX here (numpy out); grain, which imports JAX, is imported only when a
:class:`BatchIterator` opens its first epoch.

Typical use by the trainer::

    from imgtune.train import data

    train = data.read_examples(job.training_data.path, job.training_data.type,
                               base_path=job_dir, target_column_name="label",
                               multilabel=multilabel, path_map=path_map)
    classes = data.class_names(train)                # the fixed class order
    if job.validation_data is None:
        split = data.split_examples(train, seed=plan.seed, multilabel=multilabel,
                                    validation_size=validation_data_size)
        train, valid = split.train, split.validation
    else:
        valid = data.read_examples(..., field="validation_data")
        data.check_labels(valid, classes, "validation_data")
    data.validate_images(train + valid, workers=number_of_workers)
    data.write_labels(out_dir / "labels.json", classes)

    it = data.train_iterator(train, classes, multilabel=multilabel, batch_size=B,
                             seed=plan.seed, crop_size=training_crop_size,
                             num_epochs=epochs, workers=number_of_workers)
    it.set_state(saved_state)                        # when resuming
    for batch in it:                                 # batch.images: [B, H, W, 3] float32
        ...; state = it.get_state()                  # {"epoch": e, "position": p}

The pieces, one module each: :mod:`~imgtune.train.data.read` (formats, path
map, labels), :mod:`~imgtune.train.data.split` (seeded, stratified splits),
:mod:`~imgtune.train.data.decode` (Pillow decoding and the up-front image
check), :mod:`~imgtune.train.data.augment` (augmentation and
normalisation), :mod:`~imgtune.train.data.pipeline` (batching, shuffling,
parallel decode, resume; it explains the grain/threads choice),
:mod:`~imgtune.train.data.image_store` (a sweep's images decoded once, shared
by its trials) and :mod:`~imgtune.train.data.augment_device` (the training
augmentation in JAX, for the accelerator; it imports JAX, so it is not
imported here).
"""

from imgtune.train.data.augment import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    eval_crop,
    eval_transform,
    normalize,
    random_resized_crop_box,
    rng_for,
    train_transform,
)
from imgtune.train.data.decode import load_image, validate_images
from imgtune.train.data.pipeline import Batch, BatchIterator, Transform, eval_iterator, train_iterator
from imgtune.train.data.read import (
    IMAGE_EXTENSIONS,
    INPUT_TYPES,
    Example,
    check_labels,
    class_names,
    encode_labels,
    parse_path_map,
    read_examples,
    read_labels,
    resolve_image_url,
    write_labels,
)
from imgtune.train.data.split import Split, split_examples

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_EXTENSIONS",
    "INPUT_TYPES",
    "Batch",
    "BatchIterator",
    "Example",
    "Split",
    "Transform",
    "check_labels",
    "class_names",
    "eval_crop",
    "encode_labels",
    "eval_iterator",
    "eval_transform",
    "load_image",
    "normalize",
    "parse_path_map",
    "random_resized_crop_box",
    "read_examples",
    "read_labels",
    "resolve_image_url",
    "rng_for",
    "split_examples",
    "train_iterator",
    "train_transform",
    "validate_images",
    "write_labels",
]
