"""Shared fixtures."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _compat_dir() -> Path:
    for candidate in (ROOT.parent / "shared" / "compat" / "azure-yaml", ROOT / "tests" / "data" / "azure-yaml"):
        if candidate.is_dir():
            return candidate
    pytest.skip("the Azure YAML corpus (../shared/compat/azure-yaml) is not beside this checkout")


@pytest.fixture(scope="session")
def azure_yaml() -> Path:
    """The folder of real Azure job files (../shared/compat/azure-yaml)."""
    return _compat_dir()
