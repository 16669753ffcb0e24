"""``python -m records case list | show REF | update REF [--state S] [--rectify-by DATE] [--note TEXT] [--evidence FILE ...]``.

A case is named by its number (``2026-0001``) or id. ``show`` checks every evidence file against its
SHA-256 and reports one that changed. States and their allowed moves: ``docs/closing-the-loop.md``.
"""

from __future__ import annotations

import json

import pandas as pd

from records import audit, cases, evidence
from records.cli import parser, run
from records.db import RecordsError, transaction
from records.store import open_store


def _show(conn, ref: str) -> int:
    detail = cases.case_detail(conn, ref)
    case = detail["case"]
    print(
        f"case {case['case_no']}  {case['state']}  site {case['site_id']}  {case['category']}\n"
        f"  found {case['found_at']} (visit {case['visit_id']}), rectify by {case['rectify_by']}, "
        f"chief {case['chief']}"
        + (f", verified by visit {case['verified_visit_id']}" if case["verified_visit_id"] else "")
    )
    if case["description"]:
        print(f"  {case['description']}")
    print("history:")
    for row in detail["events"].itertuples():
        move = f" {row.from_state}->{row.to_state}" if row.kind == "state" else ""
        extra = f" rectify by {row.rectify_by}" if pd.notna(row.rectify_by) else ""
        print(f"  {row.at} {row.actor}: {row.kind}{move}{extra} {row.note}".rstrip())
    print("tasks:" if len(detail["tasks"]) else "tasks: none")
    for row in detail["tasks"].itertuples():
        print(
            f"  task {row.task_id} {row.kind} due {row.due_at}: {row.state} {row.closed_note or ''}".rstrip()
        )
    problems = {p.split(":")[0]: p for p in evidence.verify_evidence(conn, case["case_id"])}
    print("evidence:" if len(detail["evidence"]) else "evidence: none")
    for row in detail["evidence"].itertuples():
        flags = "; ".join(json.loads(row.flags))
        print(
            f"  {row.evidence_id} {row.file_name} {row.size_bytes} B sha256 {row.sha256[:16]}"
            + (f" taken {row.taken_at}" if row.taken_at else "")
            + (f" FLAGGED: {flags}" if flags else "")
        )
    for problem in problems.values():
        print(f"  PROBLEM: {problem}")
    return 1 if problems else 0


def main(argv: list[str]) -> int:
    """List, show or update cases."""
    cli = parser("case", "List, show or update the cases violations opened.")
    cli.add_argument("action", choices=("list", "show", "update"))
    cli.add_argument("case", nargs="?", help="case number (2026-0001) or id, for show and update")
    cli.add_argument("--state", help=f"list: only this state; update: move to it ({', '.join(cases.STATES)})")
    cli.add_argument("--site", help="list: only this site")
    cli.add_argument("--visit", type=int, help="update --state closed: the compliant follow-up visit")
    cli.add_argument("--rectify-by", help="update: new rectification deadline YYYY-MM-DD")
    cli.add_argument("--note", default="", help="update: a note for the case's history")
    cli.add_argument("--evidence", nargs="+", default=[], metavar="FILE", help="update: add evidence files")
    args = cli.parse_args(argv)
    if args.action != "list" and not args.case:
        cli.error(f"{args.action} needs a case number or id")

    def body() -> int:
        with open_store(args.db) as store:
            conn = store.conn
            if args.action == "list":
                frame = cases.cases_frame(conn, args.state, args.site)
                print(
                    frame.drop(columns=["description"]).to_string(index=False) if len(frame) else "no cases"
                )
                return 0
            if args.action == "show":
                return _show(conn, args.case)
            if not (args.state or args.rectify_by or args.note or args.evidence):
                raise RecordsError("update: give --state, --rectify-by, --note or --evidence")
            with transaction(conn):
                case = cases.find_case(conn, args.case)
                for path in args.evidence:
                    evidence.add_evidence(conn, case["case_id"], path, args.actor or audit.default_actor())
                if args.rectify_by:
                    cases.set_deadline(
                        conn,
                        case["case_id"],
                        cases.parse_day(args.rectify_by, "--rectify-by"),
                        actor=args.actor,
                    )
                if args.state:
                    cases.change_state(
                        conn,
                        case["case_id"],
                        args.state,
                        note=args.note,
                        visit_id=args.visit,
                        actor=args.actor,
                    )
                elif args.note:
                    cases.add_note(conn, case["case_id"], args.note, args.actor)
                case = cases.find_case(conn, case["case_id"])
            print(f"case {case['case_no']}: {case['state']}, rectify by {case['rectify_by']}")
            return 0

    return run(body)
