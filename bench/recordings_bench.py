"""Recordings benchmark: move a 50 MB recording from the NATS object store to blob storage and report the
mover's peak memory (it streams: the object is never held whole) and its throughput.

    python -m bench.recordings_bench [--mb 50]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nats

from bench.common import machine, table
from parley_devstack.nats_server import NatsServer
from parley_runtime.messaging.provision import provision

BUCKET = "voice-audio"
KEY = "conv-bench/sess-bench/audio.ogg"


class RssSampler:
    """Samples this process's resident memory every few milliseconds from a thread; keeps the peak."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.baseline = self.current()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> float:
        return float(self.process.memory_info().rss) / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(0.002)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def child(nats_url: str, blob_dir: str, expected_sha: str) -> dict[str, float | bool]:
    """Runs in its own process so its peak RSS is the mover's alone."""
    from obstore.store import LocalStore

    from parley_recordings.blobs import BlobStore
    from parley_recordings.objectstore import Sha256Counter, stream_object

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    blobs = BlobStore(LocalStore(blob_dir), Path(blob_dir).as_uri())
    counter = Sha256Counter()
    with RssSampler() as rss:
        started = time.perf_counter()
        await blobs.put("audio/bench.ogg", counter.wrap(stream_object(js, BUCKET, KEY)), "audio/ogg")
        elapsed = time.perf_counter() - started
    await nc.close()
    return {
        "move_seconds": round(elapsed, 2),
        "move_mb_per_s": round(counter.bytes / 1e6 / elapsed, 1),
        "mover_rss_before_mb": round(rss.baseline, 1),
        "mover_peak_rss_mb": round(rss.peak, 1),
        "mover_rss_growth_mb": round(rss.peak - rss.baseline, 1),
        "bytes_moved": counter.bytes,
        "sha256_ok": counter.hash.hexdigest() == expected_sha,
    }


async def main(mb: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = NatsServer(root / "nats").start()
        try:
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            await provision(js)
            source = root / "audio.bin"
            with source.open("wb") as f:
                for _ in range(mb):
                    f.write(os.urandom(1 << 20))
            sha = hashlib.sha256(source.read_bytes()).hexdigest()
            with source.open("rb") as f:
                await (await js.object_store(BUCKET)).put(KEY, f)
            await nc.close()
            (root / "blobs").mkdir()
            args = ["-m", "bench.recordings_bench", "--child", server.url, str(root / "blobs"), sha]
            child_proc = await asyncio.create_subprocess_exec(sys.executable, *args, stdout=subprocess.PIPE)
            stdout, _ = await child_proc.communicate()
            result: dict[str, object] = {"object_mb": mb, **json.loads(stdout)}
        finally:
            server.kill()
    result["machine"] = machine()
    return result


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(asyncio.run(child(sys.argv[2], sys.argv[3], sys.argv[4]))))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=50)
    args = parser.parse_args()
    res = asyncio.run(main(args.mb))
    print("recordings benchmark")
    print(table([(k, str(v)) for k, v in res.items()]))
