"""The bundled portal replica: real OFweek pages served on loopback.

``ReplicaServer`` serves a :class:`Scenario` (``Scenario.demo()`` by default,
``Scenario.generated(n)`` for load) with an optional :class:`FaultPlan`;
``python -m newsspider.replica`` (or :func:`main`) runs one until SIGINT/SIGTERM.

Reads no settings, writes no stats.
"""

from __future__ import annotations

from newsspider.replica.faults import FaultPlan
from newsspider.replica.model import ArticleSpec, ImageSpec, ListingEntry, Scenario
from newsspider.replica.server import ReplicaServer

__all__ = [
    "ArticleSpec",
    "FaultPlan",
    "ImageSpec",
    "ListingEntry",
    "ReplicaServer",
    "Scenario",
    "main",
]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m newsspider.replica`` and ``newsspider replica``."""
    from newsspider.replica.__main__ import main as _main

    return _main(argv)
