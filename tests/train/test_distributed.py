"""Data parallelism on CPU: two devices in one process, and two processes joined by jax.distributed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
WORKER = HERE / "distributed_worker.py"


def _env(devices: int) -> dict[str, str]:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    env.setdefault("JAX_PLATFORMS", "cpu")
    return env


def _start(out: Path, data: Path, workdir: Path, distributed: bool, devices: int, *extra: int) -> subprocess.Popen:
    args = [sys.executable, str(WORKER), str(out), str(data), str(workdir), "1" if distributed else "0",
            *map(str, extra)]
    return subprocess.Popen(args, env=_env(devices), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen, out: Path, timeout: float = 240) -> dict:
    try:
        log, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        log, _ = proc.communicate()
        raise AssertionError(f"worker timed out:\n{log[-3000:]}") from None
    assert proc.returncode == 0, log[-3000:]
    return json.loads(out.read_text())


def _losses(result: dict) -> list[float]:
    return [h["train_loss"] for h in result["history"]] + [h["loss"] for h in result["history"]]


@pytest.fixture(scope="module")
def single(digits_dir, tmp_path_factory):
    """The reference: the same trial on one device."""
    d = tmp_path_factory.mktemp("single")
    return _finish(_start(d / "out.json", digits_dir, d / "w", False, 1), d / "out.json")


def test_two_devices_follow_the_one_device_loss_curve(digits_dir, tmp_path, single):
    two = _finish(_start(tmp_path / "out.json", digits_dir, tmp_path / "w", True, 2), tmp_path / "out.json")
    assert single["devices"] == 1 and two["devices"] == 2
    assert two["status"] == single["status"] == "Completed"
    assert _losses(two) == pytest.approx(_losses(single), rel=1e-4, abs=1e-5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_one_trial_together(digits_dir, tmp_path, single):
    port = _free_port()
    procs = [_start(tmp_path / f"out{i}.json", digits_dir, tmp_path / "w", True, 1, i, 2, port) for i in range(2)]
    results = [_finish(p, tmp_path / f"out{i}.json") for i, p in enumerate(procs)]
    for r in results:
        assert r["processes"] == 2 and r["devices"] == 2 and r["local_devices"] == 1
        assert r["status"] == "Completed"
    assert results[0]["history"] == results[1]["history"]
    assert _losses(results[0]) == pytest.approx(_losses(single), rel=1e-4, abs=1e-5)
    assert (tmp_path / "w" / "result.json").is_file()
