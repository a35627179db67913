"""Every workspace package installs alone, from its own declared dependencies, and imports every module.

Each package is synced into an empty environment exactly as its image builds it (`uv sync --frozen --no-dev
--no-editable --package P`), so a module that imports something its package does not declare fails here,
not in a container.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, uv

PACKAGES = {
    "parley-contracts": "libs/contracts",
    "parley-runtime": "libs/runtime",
    "parley-devstack": "tools/devstack",
    "parley-agent": "services/agent",
    "parley-rooms": "services/rooms",
    "parley-history": "services/history",
    "parley-recordings": "services/recordings",
    "parley-console": "services/console",
    "parley-insights": "services/insights",
    "parley-webhooks": "services/webhooks",
}
# Alembic runs these inside its own context; importing them alone does not work by design.
NOT_IMPORTABLE = (".migrations.env",)


def modules_of(src: Path) -> list[str]:
    names = []
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        if not name.endswith(NOT_IMPORTABLE) and "versions" not in parts:
            names.append(name)
    return names


def test_every_workspace_member_is_checked() -> None:
    members = {p.parent.relative_to(ROOT).as_posix() for p in ROOT.glob("*/*/pyproject.toml")}
    assert members == set(PACKAGES.values())


@pytest.mark.slow
@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_the_package_installs_alone_and_imports_every_module(package: str, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    uv("sync", "--frozen", "--no-dev", "--no-editable", "--package", package, environment=venv)
    modules = modules_of(ROOT / PACKAGES[package] / "src")
    assert len(modules) > 1
    script = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script, *modules], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True
    )
    assert installed.stdout.strip() != sys.prefix  # the empty environment, not the workspace's
