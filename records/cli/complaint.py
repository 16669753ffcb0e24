"""``python -m records complaint add | list | close``.

``add --received ISO [--site ID | --lon X --lat Y] --nature TEXT [--night] [--channel C] [--urgent]``
records a complaint and its check task (a night check with ``--night``); coordinates are matched to
the nearest registry site within a few km. ``close ID --visit VISIT --reply TEXT`` closes it.
"""

from __future__ import annotations

import pandas as pd

from records import complaints
from records.cli import parser, run
from records.db import parse_time
from records.store import open_store


def main(argv: list[str]) -> int:
    """Add, list or close complaints."""
    cli = parser("complaint", "Complaints (12369 hotline, letters, online): add, list, close.")
    cli.add_argument("action", choices=("add", "list", "close"))
    cli.add_argument("complaint", nargs="?", type=int, help="close: the complaint id")
    cli.add_argument("--received", help="add: when it was received (ISO-8601; local +08:00 if no offset)")
    cli.add_argument("--site", help="add: the registry site it is about")
    cli.add_argument("--lon", type=float, help="add: where, when no site is named")
    cli.add_argument("--lat", type=float)
    cli.add_argument("--nature", default="", help="add: what it is about")
    cli.add_argument("--night", action="store_true", help="add: the problem happens at night (a night check)")
    cli.add_argument("--channel", choices=complaints.CHANNELS, default="12369")
    cli.add_argument(
        "--urgent",
        action="store_true",
        help=f"add: respond within {complaints.RESPONSE_HOURS['urgent']} h "
        f"(else {complaints.RESPONSE_HOURS['normal'] // 24} days)",
    )
    cli.add_argument("--state", choices=("open", "closed"), help="list: only this state")
    cli.add_argument("--visit", type=int, help="close: the visit that checked it")
    cli.add_argument("--reply", default="", help="close: the reply sent to the complainant")
    args = cli.parse_args(argv)
    if args.action == "add" and not args.received:
        cli.error("add needs --received")
    if args.action == "close" and (args.complaint is None or args.visit is None):
        cli.error("close needs the complaint id and --visit")

    def body() -> int:
        with open_store(args.db) as store:
            if args.action == "add":
                complaint_id = complaints.add_complaint(
                    store.conn,
                    complaints.Complaint(
                        received_at=parse_time(args.received, "--received"),
                        nature=args.nature,
                        channel=args.channel,
                        site_id=args.site,
                        lon=args.lon,
                        lat=args.lat,
                        night=args.night,
                        urgent=args.urgent,
                    ),
                    actor=args.actor,
                )
                row = complaints.complaints_frame(store.conn).set_index("complaint_id").loc[complaint_id]
                where = f" ({row['distance_m']:.0f} m away)" if pd.notna(row["distance_m"]) else ""
                print(
                    f"complaint {complaint_id} at {row['site_id']}{where}, respond by "
                    f"{row['respond_by'].tz_convert('Asia/Shanghai'):%Y-%m-%d %H:%M}; "
                    f"{'night check' if args.night else 'check'} task set"
                )
            elif args.action == "list":
                frame = complaints.complaints_frame(store.conn, args.state)
                print(frame.to_string(index=False) if len(frame) else "no complaints")
            else:
                complaints.close_complaint(store.conn, args.complaint, args.visit, args.reply, args.actor)
                print(f"complaint {args.complaint} closed")
        return 0

    return run(body)
