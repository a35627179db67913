"""LiveKit's native runtime is started once, however many calls start together (see `start_livekit_runtime`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# In a fresh interpreter: the test process may have started the runtime already. Starting it is made slow, so
# that threads arriving together would all start it, unless something makes them wait for the first.
_SCRIPT = textwrap.dedent(
    """
    import threading, time
    from livekit.rtc._ffi_client import FfiClient
    from parley_agent.worker import start_livekit_runtime

    started = []
    original = FfiClient.__init__

    def slow_init(self):
        started.append(threading.get_ident())
        time.sleep(0.05)
        original(self)

    FfiClient.__init__ = slow_init
    barrier = threading.Barrier(8)

    def job():
        barrier.wait()
        start_livekit_runtime()
        assert FfiClient._instance is not None

    threads = [threading.Thread(target=job) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(len(started))
    """
)


def test_calls_starting_together_start_livekits_native_runtime_once() -> None:
    run = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "1"


_PREWARM = textwrap.dedent(
    """
    import os, types
    import msgspec
    from livekit.rtc._ffi_client import FfiClient
    from parley_agent import worker
    from parley_agent.settings import Settings

    os.environ[worker.SETTINGS_ENV] = msgspec.json.encode(Settings(providers="offline")).decode()
    os.environ[worker.WORKER_PID_ENV] = str(os.getpid())  # a job thread of this process: no metric snapshots
    assert FfiClient._instance is None
    worker.prewarm(types.SimpleNamespace(userdata={}))
    print(FfiClient._instance is not None)
    """
)


def test_a_jobs_prewarm_starts_the_runtime_before_the_job_runs() -> None:
    run = subprocess.run([sys.executable, "-c", _PREWARM], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "True"
