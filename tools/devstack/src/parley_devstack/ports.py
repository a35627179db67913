"""Pick ports on 127.0.0.1: the preferred one when it is free, else any free one."""

from __future__ import annotations

import socket
import time
from collections import deque


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


# Ports handed out lately: nothing holds a port between its pick and the server's bind, and the kernel can
# give the same one to two calls in a row (a cluster's nodes, a server's several listeners).
_recent: deque[int] = deque(maxlen=1024)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now, and not one this process was handed lately."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port not in _recent:
            _recent.append(port)
            return port
    raise RuntimeError("no free port that was not handed out lately")


def choose_port(preferred: int, host: str = "127.0.0.1") -> int:
    return preferred if is_free(preferred, host) else free_port(host)


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
