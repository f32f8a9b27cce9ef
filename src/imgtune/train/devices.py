"""Devices, precision and data-parallel sharding of one trial.

* **Devices.** A trial uses the devices it is given; by default one local
  device, or every device (``jax.devices()``, all processes) with
  ``distributed: true``. Without ``distributed`` only the first given device
  is used.
* **Data parallelism** (``distributed: true``): one mesh axis ``"data"`` over
  the devices; each batch is split along its first axis
  (``NamedSharding(mesh, P("data"))``) and the state is replicated
  (``P()``); the jitted step's gradient mean over the global batch becomes an
  all-reduce that XLA inserts. ``training_batch_size`` must be a multiple of
  the device count (validation batches are padded up to one).
* **Several hosts.** Start the same program on every host and call
  ``jax.distributed.initialize(coordinator_address="host0:1234",
  num_processes=P, process_id=i)`` before any other JAX call (on CPU, also
  ``jax.config.update("jax_cpu_collectives_implementation", "gloo")``
  first). Every process then reads the same data, builds the same global
  batch from the same index arithmetic and contributes its devices' rows
  (:func:`put_global`); process 0 alone writes checkpoints and the result, so
  ``workdir`` must be on a file system every process sees if a trial is to be
  resumed.
* **Precision.** bfloat16 compute on GPU and TPU, float32 on CPU; the
  ``advanced_settings`` key ``compute_dtype`` (``float32``, ``bfloat16``,
  ``float16``) overrides it. Parameters, optimiser state, BatchNorm
  statistics and the loss stay float32.

Example:
    >>> import jax
    >>> compute_dtype("cpu"), compute_dtype("gpu"), compute_dtype("cpu", "bfloat16")
    (dtype('float32'), dtype(bfloat16), dtype(bfloat16))
    >>> len(select_devices(None, distributed=False))
    1
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = [
    "batch_sharding",
    "compute_dtype",
    "data_mesh",
    "put_global",
    "replicated",
    "select_devices",
    "to_host",
    "worker_count",
]

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


def select_devices(devices: Sequence[Any] | None, *, distributed: bool) -> list[Any]:
    """The devices a trial trains on (see the module doc)."""
    if devices is None:
        devices = jax.devices() if distributed else jax.local_devices()[:1]
    devices = list(devices)
    if not devices:
        raise ValueError("no devices given")
    return devices if distributed else devices[:1]


def compute_dtype(platform: str, override: str | None = None) -> np.dtype:
    """bfloat16 on ``gpu``/``tpu``, float32 elsewhere, unless ``override`` names a dtype."""
    if override is not None:
        if override not in _DTYPES:
            raise ValueError(f"compute_dtype must be one of {sorted(_DTYPES)}, got {override!r}")
        return np.dtype(_DTYPES[override])
    return np.dtype(jnp.bfloat16 if platform in ("gpu", "tpu", "cuda", "rocm") else jnp.float32)


def data_mesh(devices: Sequence[Any]) -> Mesh:
    """A one-axis mesh ``("data",)`` over ``devices``."""
    return Mesh(np.asarray(list(devices), dtype=object), ("data",))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Rows split over the ``data`` axis."""
    return NamedSharding(mesh, PartitionSpec("data"))


def replicated(mesh: Mesh) -> NamedSharding:
    """The same value on every device."""
    return NamedSharding(mesh, PartitionSpec())


def put_global(array: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from a host array every process holds in full (each process
    transfers only the rows of its own devices). A ``jax.Array`` (already on the devices,
    e.g. a batch augmented there) is laid out by ``sharding`` where it is."""
    if isinstance(array, jax.Array):
        return jax.device_put(array, sharding)
    array = np.asarray(array)
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def to_host(x: jax.Array) -> np.ndarray:
    """A replicated (or single-device) array as numpy, in any process."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        return np.asarray(x.addressable_data(0))
    return np.asarray(x)


def worker_count(requested: int) -> int:
    """``number_of_workers`` capped at the machine's cores (``os.cpu_count()``)."""
    return max(0, min(int(requested), os.cpu_count() or 1))
