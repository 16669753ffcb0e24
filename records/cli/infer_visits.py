"""``python -m records infer-visits``: infer visits from every stored track (idempotent)."""

from __future__ import annotations

from records.cli import parser, run
from records.infer import DEFAULT_MIN_DWELL_MINUTES, DEFAULT_RADIUS_M, registry_sites
from records.store import open_store


def main(argv: list[str]) -> int:
    """Infer visits from stored tracks against the registry's sites."""
    cli = parser("infer-visits", "Infer visits (dwell near a site) from every stored track.")
    cli.add_argument("--radius-m", type=float, default=DEFAULT_RADIUS_M)
    cli.add_argument("--min-dwell-minutes", type=float, default=DEFAULT_MIN_DWELL_MINUTES)
    args = cli.parse_args(argv)

    def body() -> int:
        sites = registry_sites()
        with open_store(args.db) as store:
            added = store.infer_visits(sites, args.radius_m, args.min_dwell_minutes)
        print(f"{sum(added.values())} new inferred visits from {len(added)} tracks")
        return 0

    return run(body)
