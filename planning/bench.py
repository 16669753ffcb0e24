"""Benchmarks of the routing core: ``python -m planning.bench vrptw FILE [FILE...] --seconds N``.

Each Solomon file is solved with :data:`VRPTW_PARAMS` (``--runs`` times with seeds ``--seed``,
``--seed`` + 1, ...; the median run is reported) and re-checked by :func:`planning.vrptw.evaluate`. ``--seconds`` is a CPU-time budget per instance, shared by the
workers (two workers get half each), unless ``--budget wall`` asks for that many wall seconds
per worker. The gap is taken against ``BKS.csv`` beside the first file (or ``--bks``).

``--engine`` picks the search (:mod:`planning.pyvrp_engine`): ``portfolio`` (the default: with
one worker PyVRP when the problem fits, else the core; with two workers PyVRP and the core in
parallel on the same budget, the better kept), ``xunhu`` (the core alone), ``pyvrp`` (PyVRP 0.14
on the translated :class:`~planning.core.RoutingProblem`) or ``pyvrp-direct`` (plain PyVRP on data
built straight from the file with PyVRP's own classes, as a user of PyVRP would, for a
side-by-side reference). The default is PyVRP for plain VRPTW because it is closer to the
best-known solutions than the core at every budget measured (``bench/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from planning import pyvrp_engine, ruin_recreate
from planning.core import RoutingSolution, SolveParams, Visit
from planning.vrptw import SolomonInstance, customer_routes, evaluate, load_solomon, read_bks, to_problem

VRPTW_PARAMS = SolveParams(
    first_solution="LOCAL_CHEAPEST_COST_INSERTION",
    metaheuristic="GUIDED_LOCAL_SEARCH",
    ruin_recreate=0.8,
)
"""Search settings for plain VRPTW, chosen by the measurements in bench/RESULTS.md."""

WALL_SAFETY_FACTOR = 20
"""A CPU-budgeted search still stops after this many times its budget in wall time, so a
saturated machine cannot stall a run forever."""


@dataclass(frozen=True)
class BenchRow:
    """One solved instance: DIMACS distance, vehicles used, gap to BKS and effort."""

    instance: str
    customers: int
    distance: float
    exact_distance: float
    vehicles: int
    bks: float | None
    cpu_seconds: float
    wall_seconds: float
    feasible: bool
    exact_time_feasible: bool
    settings: str
    gap_range: tuple[float, float] | None = None
    engine: str = "xunhu"

    @property
    def gap_percent(self) -> float | None:
        if self.bks is None or not self.feasible:
            return None
        return 100.0 * (self.distance - self.bks) / self.bks


def vrptw_params(
    seconds: float,
    workers: int,
    budget: str,
    restart_lambdas: tuple[float, ...] | None = None,
    ruin_recreate: float | None = None,
) -> SolveParams:
    """:data:`VRPTW_PARAMS` with a per-worker budget: ``seconds`` of CPU shared by the workers
    (``budget="cpu"``) or ``seconds`` of wall time for each worker (``budget="wall"``);
    ``restart_lambdas`` and ``ruin_recreate`` replace the defaults when given."""
    params = VRPTW_PARAMS
    if restart_lambdas is not None:
        params = replace(params, restart_lambdas=restart_lambdas)
    if ruin_recreate is not None:
        params = replace(params, ruin_recreate=ruin_recreate)
    if budget == "cpu":
        share = seconds / workers
        return replace(params, seconds=share * WALL_SAFETY_FACTOR, cpu_seconds=share, workers=workers)
    return replace(params, seconds=seconds, workers=workers)


def _lambdas(text: str) -> tuple[float, ...]:
    """``"0.2,0.05"`` -> (0.2, 0.05); an empty string means no restarts."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


ENGINES = (*pyvrp_engine.ENGINES, "pyvrp-direct")
"""Values of ``--engine``."""


def direct_pyvrp(instance: SolomonInstance, params: SolveParams) -> RoutingSolution:
    """Plain PyVRP on ``instance``: data built with PyVRP's own classes from the file's coordinates
    and DIMACS-rounded distances (not through :class:`~planning.core.RoutingProblem`), solved with
    PyVRP's defaults and seed ``params.seed`` on the same CPU budget. Only the customer routes,
    dropped nodes, status and effort of the result are filled in."""
    import time

    import pyvrp

    started, cpu_started = time.perf_counter(), time.process_time()
    ready, due, service = instance.scaled_times()
    distance = instance.scaled_distance
    locations = [pyvrp.Location(float(x), float(y)) for x, y in instance.coords]
    clients = [
        pyvrp.Client(
            location=i,
            delivery=[int(instance.demand[i])],
            service_duration=int(service[i]),
            tw_early=int(ready[i]),
            tw_late=int(due[i]),
        )
        for i in range(1, len(locations))
    ]
    data = pyvrp.ProblemData(
        locations,
        clients,
        [pyvrp.Depot(location=0, tw_early=int(ready[0]), tw_late=int(due[0]))],
        [
            pyvrp.VehicleType(
                instance.fleet, capacity=[instance.capacity], tw_early=int(ready[0]), tw_late=int(due[0])
            )
        ],
        [distance],
        [distance],
    )
    cpu = params.cpu_seconds if params.cpu_seconds is not None else float("inf")
    result = pyvrp.solve(
        data, stop=pyvrp_engine.CpuBudget(cpu, params.seconds), seed=params.seed, collect_stats=False
    )
    routes = [
        [activity.idx + 1 for activity in route if activity.is_client()] for route in result.best.routes()
    ]
    served = {c for route in routes for c in route}
    return RoutingSolution(
        routes=tuple(tuple(Visit(c, 0, 0) for c in [0, *route, 0]) for route in routes),
        dropped=tuple(c for c in range(1, len(locations)) if c not in served),
        objective=int(result.cost()) if result.is_feasible() else 0,
        status="feasible" if result.is_feasible() else "infeasible",
        solve_seconds=time.perf_counter() - started,
        stats={
            "engine": "pyvrp-direct",
            "settings": f"plain PyVRP 0.14 seed={params.seed}",
            "cpu_seconds": time.process_time() - cpu_started,
        },
    )


def bench_vrptw(
    path: str | Path, params: SolveParams, bks: dict[str, float], engine: str = "portfolio"
) -> BenchRow:
    """Solve one Solomon instance with ``params`` and ``engine`` (:data:`ENGINES`) and check the
    result independently."""
    instance = load_solomon(path)
    if engine == "pyvrp-direct":
        if params.workers != 1:
            raise ValueError("--engine pyvrp-direct runs one search: use --workers 1")
        solution = direct_pyvrp(instance, params)
    else:
        solution = pyvrp_engine.solve_with(to_problem(instance), params, engine)
    if not solution.feasible:
        raise RuntimeError(f"{path}: the solver found no solution ({solution.status})")
    routes = customer_routes(solution)
    evaluation = evaluate(instance, routes)
    return BenchRow(
        instance=instance.name,
        customers=len(instance.coords) - 1,
        distance=evaluation.distance,
        exact_distance=evaluation.exact_distance,
        vehicles=evaluation.vehicles,
        bks=bks.get(instance.name),
        cpu_seconds=float(solution.stats["cpu_seconds"]),
        wall_seconds=solution.solve_seconds,
        feasible=evaluation.feasible,
        exact_time_feasible=not evaluation.exact_time_violations,
        settings=solution.stats.get("settings", ""),
        engine=solution.stats.get("engine", engine),
    )


def median_run(rows: list[BenchRow]) -> BenchRow:
    """The run with the median distance (the lower one for an even count), with the range of
    gaps over all runs attached."""
    ordered = sorted(rows, key=lambda row: (not row.feasible, row.distance))
    middle = ordered[(len(ordered) - 1) // 2]
    gaps = [row.gap_percent for row in rows if row.gap_percent is not None]
    return replace(middle, gap_range=(min(gaps), max(gaps)) if len(gaps) > 1 else None)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _range(gaps: tuple[float, float] | None) -> str:
    return "—" if gaps is None else f"{gaps[0]:.2f}–{gaps[1]:.2f}"


def markdown_table(rows: list[BenchRow]) -> str:
    """Rows as a Markdown table followed by mean and median gaps per instance size."""
    lines = [
        "| instance | n | distance | vehicles | BKS | gap % | gap range % | CPU s | wall s | feasible "
        "| exact-time feasible | engine |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.instance} | {row.customers} | {row.distance:.1f} | {row.vehicles} | "
            f"{_fmt(row.bks, 1)} | {_fmt(row.gap_percent)} | {_range(row.gap_range)} | {row.cpu_seconds:.1f} | "
            f"{row.wall_seconds:.1f} | {'yes' if row.feasible else 'NO'} | "
            f"{'yes' if row.exact_time_feasible else 'no'} | {row.engine} |"
        )
    lines.append("")
    for size, gaps in gaps_by_size(rows).items():
        lines.append(
            f"- {size} customers ({len(gaps)} instances): mean gap {statistics.mean(gaps):.2f} %, "
            f"median {statistics.median(gaps):.2f} %"
        )
    return "\n".join(lines)


def gaps_by_size(rows: list[BenchRow]) -> dict[int, list[float]]:
    """Gaps (percent) grouped by number of customers, for rows with a BKS."""
    groups: dict[int, list[float]] = {}
    for row in rows:
        if row.gap_percent is not None:
            groups.setdefault(row.customers, []).append(row.gap_percent)
    return dict(sorted(groups.items()))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m planning.bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    vrptw = commands.add_parser("vrptw", help="solve Solomon VRPTW files and report the gap to BKS")
    vrptw.add_argument("files", nargs="+", type=Path, help="Solomon-format instance files")
    vrptw.add_argument("--seconds", type=float, default=30.0, help="budget per instance (default 30)")
    vrptw.add_argument("--workers", type=int, default=1, help="parallel searches (default 1)")
    vrptw.add_argument(
        "--budget",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: --seconds of CPU shared by the workers; wall: --seconds of wall time per worker",
    )
    vrptw.add_argument(
        "--restart-lambdas",
        type=_lambdas,
        help="guided-local-search restarts, e.g. 0.2,0.05 ('' for none; default: VRPTW_PARAMS)",
    )
    vrptw.add_argument(
        "--ruin-recreate",
        type=float,
        help="share of the budget for ruin-and-recreate, 0 for OR-Tools alone (default: VRPTW_PARAMS)",
    )
    vrptw.add_argument(
        "--engine",
        choices=ENGINES,
        default="portfolio",
        help="portfolio (default): PyVRP when the problem fits (with --workers 2 PyVRP and the core in "
        "parallel, the better kept); xunhu: the routing core alone; pyvrp: PyVRP on the translated "
        "problem; pyvrp-direct: plain PyVRP from the file",
    )
    vrptw.add_argument("--seed", type=int, default=0, help="seed of the first run; run k uses seed + k")
    vrptw.add_argument("--runs", type=int, default=1, help="runs per instance; the median is reported")
    vrptw.add_argument("--bks", type=Path, help="BKS.csv (default: beside the first file)")
    vrptw.add_argument("--markdown", type=Path, help="also write the table to this Markdown file")
    return parser


def main(argv: list[str]) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.seconds <= 0 or args.workers < 1 or args.runs < 1:
        print("error: --seconds must be positive, --workers and --runs at least 1", file=sys.stderr)
        return 2
    bks_path = args.bks or args.files[0].parent / "BKS.csv"
    try:
        bks = read_bks(bks_path) if bks_path.is_file() else {}
        params = vrptw_params(
            args.seconds, args.workers, args.budget, args.restart_lambdas, args.ruin_recreate
        )
        if params.ruin_recreate and args.engine in ("xunhu", "portfolio"):
            print(f"compiling the ruin-and-recreate search: {ruin_recreate.warm_up():.1f} s", flush=True)
        rows = []
        for path in args.files:
            runs = []
            for run in range(args.runs):
                row = bench_vrptw(path, replace(params, seed=args.seed + run), bks, args.engine)
                runs.append(row)
                print(
                    f"{row.instance}\tdistance {row.distance:.1f}\tvehicles {row.vehicles}\t"
                    f"BKS {_fmt(row.bks, 1)}\tgap {_fmt(row.gap_percent)} %\t"
                    f"CPU {row.cpu_seconds:.1f} s\twall {row.wall_seconds:.1f} s\t"
                    f"{'feasible' if row.feasible else 'INFEASIBLE'}\t{row.engine}",
                    flush=True,
                )
            rows.append(median_run(runs))
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    table = markdown_table(rows)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n", encoding="utf-8")
    return 0 if all(row.feasible for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
