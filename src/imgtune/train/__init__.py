"""Training side of imgtune: models, data, optimisation and the training loop (JAX/Flax NNX).

This package deliberately imports nothing at import time so that ``import imgtune.train``
stays cheap; import the submodules (e.g. :mod:`imgtune.train.models`) explicitly.
"""
