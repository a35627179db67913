"""Sampling thread stacks cannot hang the agent's processes on Python 3.11 (see `parley_agent.thread_stacks`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# What livekit-agents' loop monitor does while a busy worker's calls come and go: one thread samples every
# thread's stack while others start and end threads, and collectable garbage with finalizers is about. The
# collector runs often here, so a collection inside the sampling happens within moments; unguarded, the
# process then hangs for good (it did in three runs of three, within the first 3 seconds).
_SCRIPT = textwrap.dedent(
    """
    import gc, sys, threading, time
    from parley_agent.worker import create_server
    from parley_agent.settings import Settings

    create_server(Settings(providers="offline"), simulate=True)  # the worker installs the guard

    class Finalized:
        def __init__(self):
            self.me = self  # a cycle: only the collector frees it
        def __del__(self):
            time.sleep(0)  # lets another thread take the GIL, as a finalizer doing I/O would

    def sampler(stop):
        while not stop.is_set():
            for _ in range(50):
                Finalized()
            sys._current_frames()

    def churn(stop):
        while not stop.is_set():
            t = threading.Thread(target=lambda: None)
            t.start()
            t.join()

    gc.set_threshold(10)
    stop = threading.Event()
    threads = [threading.Thread(target=sampler, args=(stop,), daemon=True)]
    threads += [threading.Thread(target=churn, args=(stop,), daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join()
    print("done", gc.isenabled())
    """
)


def test_sampling_stacks_while_threads_come_and_go_does_not_hang_the_process() -> None:
    try:
        run = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError("the process hung sampling thread stacks") from exc
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["done", "True"]  # and collection is back on afterwards


_PREWARM = textwrap.dedent(
    """
    import os, sys, types
    import msgspec
    from parley_agent import thread_stacks, worker
    from parley_agent.settings import Settings

    os.environ[worker.SETTINGS_ENV] = msgspec.json.encode(Settings(providers="offline")).decode()
    os.environ[worker.WORKER_PID_ENV] = str(os.getpid())  # a job thread of this process: no metric snapshots
    worker.prewarm(types.SimpleNamespace(userdata={}))  # what a job process runs before its job
    print(sys._current_frames is thread_stacks._current_frames_without_collection)
    """
)


def test_a_job_process_is_guarded_before_its_job_runs() -> None:
    run = subprocess.run([sys.executable, "-c", _PREWARM], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "True"
