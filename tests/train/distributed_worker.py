"""Runs one tiny trial in a fresh process (for the data-parallel tests); not a test module.

    python distributed_worker.py OUT.json DATA_DIR WORKDIR DISTRIBUTED [PROCESS_ID NUM_PROCESSES PORT]

Set ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` for N CPU devices in one
process; give a process id, count and port to join a multi-process run through
``jax.distributed.initialize`` (CPU collectives: gloo).
"""

from __future__ import annotations

import json
import sys

import jax


def main(argv: list[str]) -> None:
    out, data_dir, workdir, distributed = argv[:4]
    if len(argv) > 4:
        pid, nproc, port = (int(a) for a in argv[4:7])
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=nproc, process_id=pid,
                                   initialization_timeout=120)
    from conftest import tiny_params
    from imgtune.train.data.trial_data import load_trial_data
    from imgtune.train.trial import TrialSettings, train_trial

    data = load_trial_data(data_dir, multilabel=False, seed=0)
    p = tiny_params("vits16r224", number_of_epochs=3, distributed=distributed == "1", early_stopping=False,
                    optimizer="adamw", learning_rate=0.001, random_seed=1)
    settings = TrialSettings(params=p, primary_metric="accuracy", multilabel=False, seed=0, model_width=0.25)
    r = train_trial(settings, data, workdir)
    with open(out, "w") as f:
        json.dump({"devices": jax.device_count(), "local_devices": jax.local_device_count(),
                   "processes": jax.process_count(), "status": r.status, "reason": r.stop_reason,
                   "history": [dict(h) for h in r.history]}, f)


if __name__ == "__main__":
    main(sys.argv[1:])
