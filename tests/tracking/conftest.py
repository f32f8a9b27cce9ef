"""The MLflow tests: `synthetic` (tests/runner) importable here and in trial processes, and MLflow kept
offline: no telemetry, and any connection beyond loopback fails the test."""

import ipaddress
import os
import socket
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[1] / "runner"
if str(RUNNER) not in sys.path:
    sys.path.insert(0, str(RUNNER))

# Before MLflow is imported (it reads these once, at import); inherited by every subprocess.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # the tests read folder stores back


def _loopback(host) -> bool:
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Fails the test on any connection or name lookup beyond this machine."""
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            raise AssertionError(f"a connection to {address} was attempted")
        return connect(self, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not _loopback(host if not isinstance(host, bytes) else host.decode()):
            raise AssertionError(f"a name lookup of {host!r} was attempted")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
