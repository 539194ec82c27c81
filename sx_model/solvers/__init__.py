"""Solvers: steady state (this package's :mod:`steady`), later dynamic, design and sweeps."""
