"""Random draws that count (双随机): made by the system and fixed in the audit log before anyone sees them.

A draw is only fair if nobody could choose its seed. With a seed typed in by hand, anyone holding the
registry can try seeds offline until the list suits them and then enter that one. So a draw that
counts is made here:

1. the seed comes from :mod:`secrets` (the operating system's cryptographic source);
2. the draw is computed in memory (``layers.draw.draw``), nothing is shown yet;
3. a ``draw.commit`` entry fixes the seed, the input hash and the parameters in the append-only audit
   log, then a ``draw`` entry holds the full record with the id of its commit; only then is the
   result returned to the caller (commit, then reveal);
4. drawing again for the same period and scope (period, level, regions) is a *re-draw*: it needs a
   reason, and its commit names the attempt number and the draws it replaces, so a re-draw can
   never pass for a first draw.

Coverage counts the latest ``draw`` entry. A record made elsewhere (``python -m layers draw``, whose
seed may have been chosen) can still be kept as evidence with :func:`file_external`: it is
re-computed first and refused if any field was edited, and filed as ``draw.external``, which
coverage does not count.
"""

from __future__ import annotations

import secrets

import pandas as pd

from layers.draw import RECORD_TYPE, DrawError, draw, parse_period, verify
from records import audit
from records.backend import Connection
from records.db import RecordsError, transaction

COMMIT_ACTION = "draw.commit"
RESULT_ACTION = "draw"
EXTERNAL_ACTION = "draw.external"
#: Seeds are 63-bit: large enough that trying them all is out of reach, small enough for JSON readers.
SEED_BITS = 63


def draw_object(period: str, level: str, regions: tuple[str, ...]) -> str:
    """The audit object naming a draw's scope: ``draw:2026Q4:prefecture:650100+650200`` (``all``)."""
    return f"draw:{parse_period(period).label}:{level}:{'+'.join(sorted(set(regions))) or 'all'}"


def earlier_draws(conn: Connection, obj: str) -> pd.DataFrame:
    """The system draws already made for this scope (``draw`` entries), oldest first."""
    return audit.entries(conn, obj=obj, action=RESULT_ACTION)


def system_draw(
    conn: Connection,
    targets: pd.DataFrame,
    roster: pd.DataFrame,
    period: str,
    *,
    level: str = "prefecture",
    regions: tuple[str, ...] = (),
    ratios: dict[str, float] | None = None,
    layers: tuple[str, ...] = ("pollution_source",),
    reason: str = "",
    actor: str | None = None,
) -> dict:
    """Make a draw with a cryptographic seed, commit it to the audit log, and return its record.

    The record carries ``commit_id`` and ``audit_id`` (the two audit entries) and ``attempt``
    (1 for the first draw of this scope). Raises :class:`RecordsError` for bad parameters or when
    this scope was drawn before and no ``reason`` for the re-draw is given.
    """
    try:
        obj = draw_object(period, level, regions)
    except DrawError as exc:
        raise RecordsError(str(exc)) from None
    reason = reason.strip()
    with transaction(conn):
        # Under the write lock, so two chiefs drawing at once cannot both be "attempt 1".
        before = earlier_draws(conn, obj)
        if len(before) and not reason:
            last = before.iloc[-1]
            raise RecordsError(
                f"{obj} was already drawn (audit entry {last['audit_id']}, {last['at']:%Y-%m-%d %H:%M} UTC, "
                f"by {last['actor']}); a re-draw needs a reason, kept in the audit log"
            )
        seed = secrets.randbits(SEED_BITS)
        try:
            record = draw(targets, roster, period, seed, level, ratios, layers, regions=regions)
        except DrawError as exc:
            raise RecordsError(str(exc)) from None
        attempt = len(before) + 1
        commit = {
            "seed": seed,
            "seed_source": "secrets",
            "inputs_hash": record["inputs_hash"],
            "parameters": record["parameters"],
            "attempt": attempt,
            "redraw_of": [int(i) for i in before["audit_id"]],
            "reason": reason,
        }
        commit_id = audit.append(conn, COMMIT_ACTION, obj, commit, actor)
        record = {**record, "commit_id": commit_id, "attempt": attempt}
        record["audit_id"] = audit.append(conn, RESULT_ACTION, obj, record, actor)
    return record


def file_external(
    conn: Connection,
    record: object,
    targets: pd.DataFrame,
    roster: pd.DataFrame,
    actor: str | None = None,
) -> int:
    """Keep a draw record made outside the system as evidence (``draw.external``); return the entry id.

    The record is re-run on the current registry and roster first; an edited record, or one whose
    inputs no longer match, is refused with what differs.
    """
    if not isinstance(record, dict) or record.get("type") != RECORD_TYPE:
        raise RecordsError(f"not a random draw record (expected type {RECORD_TYPE!r})")
    try:
        outcome = verify(record, targets, roster)
    except DrawError as exc:
        raise RecordsError(str(exc)) from None
    if not outcome.inputs_match:
        raise RecordsError(
            "the registry or roster changed since this draw (input hash differs); it cannot be re-computed"
        )
    if not outcome.ok:
        differing = outcome.edited or ["result"]
        raise RecordsError(f"edited draw record: {', '.join(differing)} differ from a re-run of its seed")
    parameters = record["parameters"]
    obj = draw_object(parameters["period"], parameters["level"], tuple(parameters.get("regions") or ()))
    return audit.append(conn, EXTERNAL_ACTION, obj, {**record, "counted": False}, actor)
