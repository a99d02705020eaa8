"""``python -m newsspider.replica``: serve a replica until SIGINT or SIGTERM.

    python -m newsspider.replica --port 8080 [--scenario demo|generated]
        [--articles N] [--per-page N] [--faults FRACTION] [--fault-kinds 500,cut,slow]
        [--latency SECONDS] [--template redesign]

``--template redesign`` serves OFweek's article pages redesigned
(``newsspider.replica.sites.ofweek.REDESIGN``: the body, the source block and
the time moved to new elements), to watch the drift checks and self-healing
extraction at work (docs/monitoring.md).

Prints the listing URL on the first line of stdout (flushed) so a parent
process can read it.

Reads no settings, writes no stats.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from newsspider.replica.faults import FIRST_FETCH_KINDS, FaultPlan
from newsspider.replica.model import Scenario
from newsspider.replica.server import ReplicaServer

DESCRIPTION = "Serve the bundled OFweek replica on loopback until SIGINT or SIGTERM."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsspider replica", description=DESCRIPTION)
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The replica's options; also those of ``newsspider replica``."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--scenario", choices=("demo", "generated"), default="demo")
    parser.add_argument("--articles", type=int, default=50_000, help="generated scenario size")
    parser.add_argument("--per-page", type=int, default=20, help="generated listing page size")
    parser.add_argument("--seed", type=int, default=1, help="generated bodies and fault choice")
    parser.add_argument(
        "--faults",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="fail the first fetch of this fraction of pages",
    )
    parser.add_argument(
        "--fault-kinds",
        default="500,cut,slow",
        help=f"comma-separated, from {','.join(FIRST_FETCH_KINDS)}",
    )
    parser.add_argument("--slow-seconds", type=float, default=1.0)
    parser.add_argument(
        "--latency", type=float, default=0.0, metavar="SECONDS",
        help="answer every listing and article page after this long, as a remote portal would",
    )
    parser.add_argument("--template", choices=("default", "redesign"), default="default",
                        help="serve article pages redesigned (docs/monitoring.md)")


def main(argv: list[str] | None = None) -> int:
    return serve(build_parser().parse_args(argv))


def serve(args: argparse.Namespace) -> int:
    """Serve the replica the options describe until SIGINT or SIGTERM."""
    if args.scenario == "generated":
        scenario = Scenario.generated(args.articles, per_page=args.per_page, seed=args.seed)
    else:
        scenario = Scenario.demo()
    faults = FaultPlan(
        fraction=args.faults,
        kinds=tuple(kind for kind in args.fault_kinds.split(",") if kind),
        seed=args.seed,
        slow_seconds=args.slow_seconds,
    )
    server = ReplicaServer(args.host, args.port, scenario=scenario, faults=faults,
                           latency=args.latency)
    if args.template == "redesign":
        from newsspider.replica.sites.ofweek import REDESIGN

        server.change_template(REDESIGN)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server.start()
    print(server.listing_url, flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
