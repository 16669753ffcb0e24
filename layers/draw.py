"""Random inspection draw (双随机, "double random"): random targets, random officers, fully recorded.

``python -m layers draw --period 2026Q4 --seed 7 --out draw.json [--level county|prefecture]
[--ratios key=0.25,special=0.5,ordinary=0.05] [--layers pollution_source]``
``python -m layers draw --verify draw.json`` re-runs a recorded draw and says whether it matches
(any edited field of the record fails it).

**Draws that count** are made by the system, not with this command: ``python -m records draw`` and
the Plan week page take the seed from a cryptographic source and fix it in the audit log before the
result is shown (:mod:`records.draws`). A seed given here can be chosen by trying many offline, so a
record made here is a preview or a reproduction; ``python -m records log-draw`` keeps it as evidence
only.

**What is drawn.** Eligible targets are those of the chosen layers (default: pollution sources,
the units 双随机 applies to) whose status is not stopped or relocated. They are grouped by region
(prefecture or county, ``--level``) and supervision category; from every group
``ceil(ratio × eligible)`` targets are drawn without replacement.

**Minimum ratios per quarter** (defaults from Xinjiang practice, overridable with ``--ratios``):

============  =================  =============
category      prefecture level   county level
============  =================  =============
key           5 %                25 %
special       25 %               50 %
ordinary      2 %                5 %
============  =================  =============

For ordinary units we chose 2 % / 5 % per quarter: about 8 % / 19 % a year, above the national
floor of 5 % a year for general units, and small enough for a detachment's capacity.

**Other periods** (``2026-11`` month, ``2026`` year) scale the quarterly ratio ``r`` so that a unit
has the same chance of being inspected at least once per quarter: ``1 - (1 - r) ** (months / 3)``
(a month of a 25 % quarterly ratio is 9.14 %, a year of 5 % is 18.5 %).

**Officers.** Each drawn target gets two officers at random from its prefecture's detachment in
the roster, never one who declared a conflict with that site. If the detachment has fewer than two
eligible officers, the rest are drawn from all other detachments and marked ``borrowed``; if the
whole roster cannot supply them, the record carries a warning.

**Reproducibility.** Each region×category group and each target's officers use their own
``random.Random`` seeded from the seed and the group or site_id, over candidates sorted by id, so
the result depends neither on file order nor on other groups. The JSON record holds the seed,
``created_at`` (UTC), ``inputs_hash`` (SHA-256 over the canonical eligible targets, roster and
parameters), the parameters, the drawn targets with officers and the counts per region and
category; :func:`verify` re-runs it.
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import json
import math
import random
import re
import secrets
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from layers.datasets import load_roster, load_targets
from layers.schema import CATEGORIES, INACTIVE_STATUSES, LAYERS, parse_skills

#: Minimum share of eligible units drawn per quarter, by level and category.
DEFAULT_QUARTERLY_RATIOS: dict[str, dict[str, float]] = {
    "prefecture": {"key": 0.05, "special": 0.25, "ordinary": 0.02},
    "county": {"key": 0.25, "special": 0.50, "ordinary": 0.05},
}
LEVEL_COLUMNS = {
    "prefecture": ("prefecture_code", "prefecture_name"),
    "county": ("county_code", "county_name"),
}
OFFICERS_PER_TARGET = 2
RECORD_TYPE = "xunhu.random_draw"
RECORD_VERSION = 1


class DrawError(ValueError):
    """Input that makes a draw impossible (bad period, ratios, or targets without region)."""


@dataclass(frozen=True)
class Period:
    """An inspection period: a year, a quarter or a month."""

    label: str
    start: date
    end: date
    months: int


def parse_period(text: str) -> Period:
    """``2026`` (year), ``2026Q4`` (quarter) or ``2026-11`` (month) as a :class:`Period`."""
    text = text.strip()
    if match := re.fullmatch(r"(\d{4})", text):
        year = int(match[1])
        return Period(text, date(year, 1, 1), date(year, 12, 31), 12)
    if match := re.fullmatch(r"(\d{4})[Qq]([1-4])", text):
        year, quarter = int(match[1]), int(match[2])
        first = 3 * (quarter - 1) + 1
        last = first + 2
        return Period(
            f"{year}Q{quarter}", date(year, first, 1), date(year, last, calendar.monthrange(year, last)[1]), 3
        )
    if match := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
        year, month = int(match[1]), int(match[2])
        if 1 <= month <= 12:
            return Period(
                f"{year}-{month:02d}",
                date(year, month, 1),
                date(year, month, calendar.monthrange(year, month)[1]),
                1,
            )
    raise DrawError(f"period {text!r} is not a year (2026), quarter (2026Q4) or month (2026-11)")


def parse_ratios(text: str) -> dict[str, float]:
    """``key=0.25,special=0.5`` as a dict; categories must be known and ratios in [0, 1]."""
    ratios: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        category, sep, value = item.partition("=")
        category = category.strip()
        if not sep or category not in CATEGORIES:
            raise DrawError(
                f"ratio {item!r} is not CATEGORY=VALUE with CATEGORY one of {', '.join(CATEGORIES)}"
            )
        try:
            ratio = float(value)
        except ValueError:
            raise DrawError(f"ratio {item!r}: {value!r} is not a number") from None
        if not 0 <= ratio <= 1:
            raise DrawError(f"ratio {item!r}: must be between 0 and 1")
        ratios[category] = ratio
    return ratios


def period_ratio(quarterly_ratio: float, months: int) -> float:
    """Ratio for a period of ``months`` with the same at-least-once chance as ``quarterly_ratio`` per quarter."""
    return 1 - (1 - quarterly_ratio) ** (months / 3)


def eligible_targets(targets: pd.DataFrame, layers: tuple[str, ...]) -> pd.DataFrame:
    """Targets of ``layers`` that are not stopped or relocated, sorted by ``site_id``."""
    chosen = targets[targets["layer"].isin(layers) & ~targets["status"].isin(INACTIVE_STATUSES)]
    return chosen.sort_values("site_id", kind="stable")


def _check_targets(eligible: pd.DataFrame, region_column: str) -> None:
    problems = []
    for column in (region_column, "prefecture_code", "category"):
        missing = eligible.loc[eligible[column].isna(), "site_id"].tolist()
        if missing:
            problems.append(
                f"{column} missing for {', '.join(map(str, missing[:10]))}{' …' if len(missing) > 10 else ''}"
            )
    unknown = eligible.loc[eligible["category"].notna() & ~eligible["category"].isin(CATEGORIES), "site_id"]
    if len(unknown):
        problems.append(
            f"category not one of {', '.join(CATEGORIES)} for {', '.join(map(str, unknown[:10]))}"
        )
    if eligible["site_id"].duplicated().any():
        problems.append(
            f"duplicated site_id {', '.join(sorted(set(eligible.loc[eligible['site_id'].duplicated(), 'site_id'])))}"
        )
    if problems:
        raise DrawError("cannot draw: " + "; ".join(problems))


def inputs_hash(eligible: pd.DataFrame, roster: pd.DataFrame, parameters: dict) -> str:
    """SHA-256 of the canonical JSON of the eligible targets, the roster and the parameters."""
    columns = ["site_id", "name", "layer", "kind", "category", "prefecture_code", "county_code"]
    target_rows = sorted([str(v) for v in row] for row in eligible[columns].itertuples(index=False))
    roster_rows = sorted(
        [str(officer_id), str(prefecture), sorted(parse_skills(conflicts))]
        for officer_id, prefecture, conflicts in roster[
            ["officer_id", "prefecture_code", "conflicts"]
        ].itertuples(index=False)
    )
    canonical = json.dumps(
        {"targets": target_rows, "roster": roster_rows, "parameters": parameters},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class _Officer:
    officer_id: str
    name: str
    prefecture_code: str
    conflicts: frozenset[str]


def _officers(roster: pd.DataFrame) -> list[_Officer]:
    """The roster as officers sorted by id, conflicts parsed once."""
    officers = [
        _Officer(str(i), str(n), str(p), parse_skills(c))
        for i, n, p, c in roster[["officer_id", "name", "prefecture_code", "conflicts"]].itertuples(
            index=False
        )
    ]
    return sorted(officers, key=lambda o: o.officer_id)


def _draw_officers(
    site_id: str, prefecture_code: str, officers: list[_Officer], seed: int, count: int
) -> tuple[list[dict], str | None]:
    """``count`` officers for one site: own detachment first, then borrowed; never a conflicted one."""
    free = [o for o in officers if site_id not in o.conflicts]
    local = [o for o in free if o.prefecture_code == prefecture_code]
    others = [o for o in free if o.prefecture_code != prefecture_code]
    rng = random.Random(f"xunhu-officers:{seed}:{site_id}")
    picked = [(o, False) for o in rng.sample(local, min(count, len(local)))]
    if len(picked) < count:
        picked += [(o, True) for o in rng.sample(others, min(count - len(picked), len(others)))]
    chosen = [
        {
            "officer_id": o.officer_id,
            "name": o.name,
            "prefecture_code": o.prefecture_code,
            "borrowed": borrowed,
        }
        for o, borrowed in picked
    ]
    warning = (
        None
        if len(chosen) == count
        else f"{site_id}: only {len(chosen)} officer(s) without conflict in the roster"
    )
    return chosen, warning


def draw(
    targets: pd.DataFrame,
    roster: pd.DataFrame,
    period: str,
    seed: int,
    level: str = "prefecture",
    ratios: dict[str, float] | None = None,
    layers: tuple[str, ...] = ("pollution_source",),
    officers_per_target: int = OFFICERS_PER_TARGET,
    regions: tuple[str, ...] = (),
) -> dict:
    """Run a random draw and return its JSON-serialisable record (see the module docstring).

    ``ratios`` are quarterly minimum ratios overriding :data:`DEFAULT_QUARTERLY_RATIOS` for
    ``level``; they are scaled to the period's length. ``regions`` (prefecture or county codes)
    restricts the draw to those regions; each region x category group has its own generator, so
    this draws the same sites as a province-wide draw restricted to them. The scope is recorded
    (only when given, so records of province-wide draws stay as they were).
    """
    if level not in LEVEL_COLUMNS:
        raise DrawError(f"level {level!r} is not one of {', '.join(LEVEL_COLUMNS)}")
    unknown_layers = [layer for layer in layers if layer not in LAYERS]
    if unknown_layers:
        raise DrawError(f"unknown layer(s) {', '.join(unknown_layers)}; known: {', '.join(LAYERS)}")
    parsed = parse_period(period)
    quarterly = {**DEFAULT_QUARTERLY_RATIOS[level], **(ratios or {})}
    for category, ratio in quarterly.items():
        if category not in CATEGORIES or not 0 <= ratio <= 1:
            raise DrawError(f"ratio {category}={ratio} is not a known category with a ratio in [0, 1]")
    period_ratios = {c: round(period_ratio(quarterly[c], parsed.months), 6) for c in CATEGORIES}
    code_column, name_column = LEVEL_COLUMNS[level]
    eligible = eligible_targets(_in_regions(targets, regions), tuple(layers))
    _check_targets(eligible, code_column)
    parameters = {
        "period": parsed.label,
        "period_start": parsed.start.isoformat(),
        "period_end": parsed.end.isoformat(),
        "level": level,
        "layers": list(layers),
        "quarterly_ratios": {c: quarterly[c] for c in CATEGORIES},
        "ratios": period_ratios,
        "officers_per_target": officers_per_target,
    }
    if regions:
        parameters["regions"] = sorted({str(code) for code in regions})

    counts, drawn_ids = [], []
    for (region, category), group in eligible.groupby([code_column, "category"], sort=True):
        ids = sorted(group["site_id"])
        required = math.ceil(period_ratios[category] * len(ids) - 1e-9)
        rng = random.Random(f"xunhu-draw:{seed}:{level}:{region}:{category}")
        picked = sorted(rng.sample(ids, required))
        drawn_ids += picked
        counts.append(
            {
                "region_code": str(region),
                "region_name": str(group[name_column].iloc[0]),
                "category": category,
                "eligible": len(ids),
                "ratio": period_ratios[category],
                "required": required,
                "drawn": len(picked),
            }
        )

    by_id = eligible.set_index("site_id")
    officers_sorted = _officers(roster)
    result, warnings = [], []
    for site_id in sorted(drawn_ids):
        row = by_id.loc[site_id]
        officers, warning = _draw_officers(
            site_id, str(row["prefecture_code"]), officers_sorted, seed, officers_per_target
        )
        if warning:
            warnings.append(warning)
        result.append(
            {
                "site_id": site_id,
                "name": str(row["name"]),
                "layer": str(row["layer"]),
                "kind": str(row["kind"]),
                "category": str(row["category"]),
                "region_code": str(row[code_column]),
                "region_name": str(row[name_column]),
                "prefecture_code": str(row["prefecture_code"]),
                "officers": officers,
            }
        )
    return {
        "type": RECORD_TYPE,
        "version": RECORD_VERSION,
        "seed": seed,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "inputs_hash": inputs_hash(eligible, roster, parameters),
        "parameters": parameters,
        "counts": counts,
        "result": result,
        "warnings": warnings,
    }


def _in_regions(targets: pd.DataFrame, regions: tuple[str, ...]) -> pd.DataFrame:
    """Rows whose prefecture or county code is one of ``regions`` (all rows when none given)."""
    if not regions:
        return targets
    codes = {str(code) for code in regions}
    inside = targets["prefecture_code"].astype(str).isin(codes) | targets["county_code"].astype(str).isin(
        codes
    )
    return targets[inside.to_numpy()]


#: Fields a draw record gets from :func:`draw`; the others (``created_at``, ids added when the
#: record is filed) are not re-computable and are not compared.
_RECOMPUTED_FIELDS = ("type", "version", "seed", "inputs_hash", "parameters", "counts", "result", "warnings")


@dataclass
class Verification:
    """Outcome of re-running a recorded draw."""

    inputs_match: bool
    result_match: bool
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    officer_changes: list[str] = field(default_factory=list)
    #: Recorded fields that differ from the re-run although the drawn ids and officers match
    #: (a hand-edited name, count or warning).
    edited: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Inputs unchanged and the whole record reproduced."""
        return self.inputs_match and self.result_match and not self.edited


def verify(record: dict, targets: pd.DataFrame, roster: pd.DataFrame) -> Verification:
    """Re-run ``record``'s draw on these inputs; compare the input hash and the drawn list."""
    if not isinstance(record, dict) or record.get("type") != RECORD_TYPE:
        found = record.get("type") if isinstance(record, dict) else type(record).__name__
        raise DrawError(f"not a draw record (type {found!r}, expected {RECORD_TYPE!r})")
    try:
        p = record["parameters"]
        again = draw(
            targets,
            roster,
            p["period"],
            int(record["seed"]),
            level=p["level"],
            ratios=p["quarterly_ratios"],
            layers=tuple(p["layers"]),
            officers_per_target=int(p["officers_per_target"]),
            regions=tuple(p.get("regions") or ()),
        )
        before = {r["site_id"]: [o["officer_id"] for o in r["officers"]] for r in record["result"]}
        recorded_hash = record["inputs_hash"]
    except DrawError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise DrawError(f"incomplete draw record: {type(error).__name__} {error}") from None
    after = {r["site_id"]: [o["officer_id"] for o in r["officers"]] for r in again["result"]}
    changed = [s for s in sorted(set(before) & set(after)) if before[s] != after[s]]
    inputs_match = again["inputs_hash"] == recorded_hash
    return Verification(
        inputs_match=inputs_match,
        result_match=before == after,
        missing=sorted(set(before) - set(after)),
        extra=sorted(set(after) - set(before)),
        officer_changes=changed,
        # With changed inputs every derived field may legitimately differ; only the ids are compared.
        edited=[key for key in _RECOMPUTED_FIELDS if record.get(key) != again[key]] if inputs_match else [],
    )


def format_counts(record: dict) -> str:
    """A readable table of eligible / required / drawn per region and category."""
    lines = [f"{'region':<24}{'category':<10}{'eligible':>9}{'ratio':>9}{'required':>9}{'drawn':>7}"]
    for c in record["counts"]:
        region = f"{c['region_code']} {c['region_name']}"
        lines.append(
            f"{region:<24}{c['category']:<10}{c['eligible']:>9}{c['ratio']:>9.2%}{c['required']:>9}{c['drawn']:>7}"
        )
    total = sum(c["drawn"] for c in record["counts"])
    eligible = sum(c["eligible"] for c in record["counts"])
    lines.append(f"{'total':<34}{eligible:>9}{'':>9}{'':>9}{total:>7}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns 0 on success, 1 when a verification fails or input is bad, 2 for usage."""
    parser = argparse.ArgumentParser(
        prog="python -m layers draw", description="Random inspection draw (双随机)."
    )
    parser.add_argument("--period", help="2026Q4 (quarter), 2026-11 (month) or 2026 (year)")
    parser.add_argument("--seed", type=int, help="random seed (default: a fresh random one, recorded)")
    parser.add_argument("--out", type=Path, help="write the JSON record here (default: standard output)")
    parser.add_argument("--level", choices=tuple(LEVEL_COLUMNS), default="prefecture")
    parser.add_argument(
        "--ratios", default="", help="quarterly minimum ratios, e.g. key=0.25,special=0.5,ordinary=0.05"
    )
    parser.add_argument("--layers", default="pollution_source", help="comma-separated layers to draw from")
    parser.add_argument(
        "--regions", default="", help="comma-separated prefecture or county codes (default: all)"
    )
    parser.add_argument("--roster", type=Path, help="roster CSV (default: the shipped one)")
    parser.add_argument("--verify", type=Path, metavar="RECORD", help="re-run a recorded draw and compare")
    args = parser.parse_args(argv)
    try:
        roster = load_roster(args.roster)
        targets = load_targets()
        if args.verify:
            return _verify_command(args.verify, targets, roster)
        if not args.period:
            parser.error("--period is required (unless --verify)")
        seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
        layers = tuple(s.strip() for s in args.layers.split(",") if s.strip())
        regions = tuple(s.strip() for s in args.regions.split(",") if s.strip())
        record = draw(
            targets, roster, args.period, seed, args.level, parse_ratios(args.ratios), layers, regions=regions
        )
    except (DrawError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    text = json.dumps(record, ensure_ascii=False, indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as error:
        print(f"error: cannot write {args.out}: {error}", file=sys.stderr)
        return 1
    print(format_counts(record))
    print(
        f"drew {len(record['result'])} target(s) for {record['parameters']['period']} (seed {seed}) → {args.out}"
    )
    for warning in record["warnings"]:
        print(f"warning: {warning}")
    return 0


def _verify_command(path: Path, targets: pd.DataFrame, roster: pd.DataFrame) -> int:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DrawError(f"{path}: not valid JSON ({error})") from None
    outcome = verify(record, targets, roster)
    print(f"inputs {'unchanged' if outcome.inputs_match else 'CHANGED'} (hash {record['inputs_hash'][:12]}…)")
    if outcome.edited:
        print(f"record edited: {', '.join(outcome.edited)} differ from the re-run")
        return 1
    if outcome.result_match:
        print(f"result reproduced: {len(record['result'])} target(s) with the same officers")
        return 0 if outcome.inputs_match else 1
    print(f"result differs: {len(outcome.missing)} missing, {len(outcome.extra)} extra, "
          f"{len(outcome.officer_changes)} with other officers")  # fmt: skip
    for site_id in outcome.missing:
        print(f"  missing {site_id}")
    for site_id in outcome.extra:
        print(f"  extra {site_id}")
    return 1
