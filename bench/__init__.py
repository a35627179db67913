"""Benchmarks (`make bench`): each prints its figures; none of them is a pass/fail test."""
