"""Ports for the servers the tests and `make dev` start on 127.0.0.1."""

from __future__ import annotations

import socket

from parley_devstack.ports import free_port, is_free


def test_ports_handed_out_in_a_row_are_distinct() -> None:
    # The kernel repeats itself within a few hundred picks (every run of 20 saw it without the guard), and
    # a cluster's nodes or a server's several listeners picked so would fight over one port.
    ports = [free_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)


def test_a_port_handed_out_is_free_and_one_in_use_is_not() -> None:
    port = free_port()
    assert is_free(port)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert not is_free(port)
