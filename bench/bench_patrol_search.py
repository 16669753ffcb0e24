"""The patrol bench's search alone: ruin and recreate on the model of bench_patrol.py's week.

    .venv/bin/python bench/bench_patrol_search.py [--seeds 1,2] [--cpu 40 | --iterations N]
        [--set retries=10 --set start_temperature=0.5 ...] [--no-duty]

Builds the routing model of the 5 teams x 5 days x 400 sites week once (as ``plan_week`` does),
then runs one :func:`planning.ruin_recreate.improve` per seed from empty routes with the given
:class:`~planning.ruin_recreate.SisrParams` overrides, and prints the objective (minutes, lower is
better), iterations, nodes served and CPU seconds per seed. ``--no-duty`` drops the working-time
limits from the model, to see what the duty checks cost. Used for the settings table of
issue 18 in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_patrol import SCENARIO  # noqa: E402

from layers.datasets import load_targets  # noqa: E402
from planning import ruin_recreate  # noqa: E402
from planning.patrol import prepare, task_scenario  # noqa: E402
from planning.scenario import parse_scenario  # noqa: E402


def _setting(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    fields = {f.name for f in dataclasses.fields(ruin_recreate.SisrParams)}
    if name not in fields or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with NAME one of {', '.join(sorted(fields))}")
    return name, float(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2", help="comma-separated seeds, one search each")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--cpu", type=float, default=40.0, help="CPU seconds per search (default 40)")
    budget.add_argument("--iterations", type=int, help="iterations per search instead of CPU seconds")
    parser.add_argument("--set", type=_setting, action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--no-duty", action="store_true", help="drop the working-time limits")
    args = parser.parse_args()
    targets = load_targets()
    scenario = task_scenario(parse_scenario(SCENARIO), targets)
    prepared = prepare(scenario, targets, "default", (), lambda message: None)
    problem = prepared.builder.build(prepared.allowed, None).problem
    if args.no_duty:
        problem = dataclasses.replace(problem, duty=None)
    overrides = {
        name: int(value) if name in ("max_string", "chunk_iterations") else value for name, value in args.set
    }
    params = dataclasses.replace(ruin_recreate.SisrParams(), **overrides)
    ruin_recreate.warm_up()
    budget = {"iterations": args.iterations} if args.iterations else {"cpu_seconds": args.cpu}
    print(
        f"model: {len(problem.nodes)} nodes, {len(problem.groups)} nights; settings {overrides or 'default'}"
    )
    for seed in (int(part) for part in args.seeds.split(",")):
        started = time.process_time()
        routes, stats = ruin_recreate.improve(
            problem, [[] for _ in problem.vehicles], seed=seed, params=params, **budget
        )
        print(
            f"seed {seed}: objective {stats['objective']}, {stats['iterations']} iterations, "
            f"{sum(len(route) for route in routes)} nodes served, {time.process_time() - started:.1f} CPU s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
