"""The trainer, floor 4: one trial on JAX/Flax NNX, above the compiler and below the runner.

Modules: :mod:`~imgtune.train.trial` (one trial end to end, in its own process),
:mod:`~imgtune.train.loop` (pure ``train_step``/``eval_step`` and the loop),
:mod:`~imgtune.train.state`, :mod:`~imgtune.train.optim`, :mod:`~imgtune.train.checkpoints`,
:mod:`~imgtune.train.devices`, :mod:`~imgtune.train.metrics`,
:mod:`~imgtune.train.pretrained` (each trial's start and the models' ImageNet weights, fetched by the
driver before a sweep; it loads no JAX),
:mod:`~imgtune.train.inference` (a trained model's forward pass and scores, shared by the
runner's test scoring, prediction and export), :mod:`~imgtune.train.models` (the twelve
architectures) and :mod:`~imgtune.train.data` (reading, splitting, decoding, augmenting and
batching images).

The package itself imports nothing, so that ``import imgtune.train.data.read`` (reading a
manifest, light) does not load JAX; the modules that use JAX import it at their top, and the
floors above import them only inside the functions that train or predict.
"""
