"""``python -m planning replan --plan P.json --now T [--db DB | --done visits.csv] [--scenario changes.yaml] --out P2.json``.

Re-plans a week under way (see :mod:`planning.replan`): what is behind each team at ``--now``
stays, done sites are not visited again, the chief's changes apply, and the rest is re-optimised
keeping stops on their team and day where it can. Prints the plan summary and the changes per
team and day, and writes the new plan (its ``replan`` block holds the same diff). Exit 2 for bad
input, with the file and field named.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from planning.closures import load_closures
from planning.plan import load_plan_dict
from planning.replan import Recorded, load_changes, read_done_csv, replan
from planning.scenario import BEIJING, ScenarioError


def _recorded_from_db(path: str | None) -> list[Recorded]:
    """Visits from the records database. The records package is read here, in the command, so
    the planning core keeps taking visits as a plain table."""
    from records.store import open_store
    from records.visits import recorded_for_replan

    with open_store(path) as store:
        return recorded_for_replan(store.conn)


def _now(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=BEIJING)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``replan`` subcommand."""
    parser = argparse.ArgumentParser(prog="python -m planning replan", description=__doc__.split("\n")[0])
    parser.add_argument("--plan", required=True, help="the plan under way (JSON, format 2)")
    parser.add_argument(
        "--now", required=True, help="re-plan from this moment (ISO; no offset = Beijing time)"
    )
    visits = parser.add_mutually_exclusive_group()
    visits.add_argument("--db", help="records database to read the recorded visits from")
    visits.add_argument("--done", help="CSV of recorded visits (site_id, outcome, started_at)")
    parser.add_argument(
        "--scenario",
        help="changes YAML: add_sites, remove_sites, pins, forbid, unavailable, locked_days, closures",
    )
    parser.add_argument("--closures", help="extra road closures (GeoJSON, as data/geo/road_closures.geojson)")
    parser.add_argument("--out", required=True, help="new plan JSON to write")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--effort", type=int, help="search effort (default: the scenario's)")
    budget.add_argument("--seconds", type=float, help="a time budget instead of an effort")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)

    try:
        now = _now(args.now)
        previous = load_plan_dict(args.plan)
        recorded = read_done_csv(args.done) if args.done else (_recorded_from_db(args.db) if args.db else [])
        changes = load_changes(args.scenario) if args.scenario else {}
        extra = load_closures(args.closures) if args.closures else ()
        plan = replan(
            previous,
            now,
            recorded=recorded,
            changes=changes,
            closures=extra,
            seconds=args.seconds,
            effort=args.effort,
            progress=progress,
            base_dir=Path(args.plan).parent,
        )
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        plan.save(args.out)
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    info = plan.replan
    k = plan.kpis
    print(
        f"{plan.status}: {k['sites_visited']} of {k['sites_total']} sites in the week; "
        f"{info['later_stops_kept']} of {info['later_stops']} later stops kept their team and day; wrote {args.out}"
    )
    for row in info["diff"]:
        changed = {name: row[name] for name in ("moved_in", "moved_out", "added", "removed") if row[name]}
        if changed:
            parts = "; ".join(f"{name.replace('_', ' ')}: {', '.join(ids)}" for name, ids in changed.items())
            print(f"  {row['team']} {row['date']}: {len(row['kept'])} kept; {parts}")
    for site_id in plan.mandatory_unmet:
        reason = next(d["reason"] for d in plan.dropped if d["id"] == site_id)
        print(f"  mandatory site {site_id} not visited: {reason}")
    return 0
