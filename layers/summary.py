"""``python -m layers summary [--format text|csv|json]``: how many targets by layer, kind, category and prefecture.

Reads the registry through :func:`layers.datasets.load_targets` (``XUNHU_DATA_DIR`` moves it).
``text`` prints readable tables; ``csv`` prints one long table ``dimension,value,name,layer,count``;
``json`` prints the same counts nested by dimension.
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from layers.datasets import load_targets
from layers.schema import CATEGORIES, INACTIVE_STATUSES, KINDS, LAYERS
from layers.spreadsheet import safe_frame

DIMENSIONS = ("layer", "kind", "category", "prefecture")


def summarise(targets: pd.DataFrame) -> pd.DataFrame:
    """Long table of counts: ``dimension`` (layer, kind, category, prefecture), ``value``, ``name``
    (prefecture name; empty otherwise), ``layer`` (empty for the layer dimension), ``count``.

    Rows come in schema order (layers, kinds, categories) and prefecture-code order; only
    non-zero counts are listed.
    """
    rows: list[dict[str, object]] = []
    layer_rank = {layer: i for i, layer in enumerate(LAYERS)}
    for layer, count in targets["layer"].value_counts().items():
        rows.append({"dimension": "layer", "value": layer, "name": "", "layer": "", "count": int(count)})
    kind_rank = {kind: i for kinds in KINDS.values() for i, kind in enumerate(kinds)}
    for (layer, kind), count in targets.groupby(["layer", "kind"]).size().items():
        rows.append({"dimension": "kind", "value": kind, "name": "", "layer": layer, "count": int(count)})
    for (layer, category), count in targets.groupby(["layer", "category"]).size().items():
        rows.append(
            {"dimension": "category", "value": category, "name": "", "layer": layer, "count": int(count)}
        )
    prefectures = targets.assign(
        prefecture_code=targets["prefecture_code"].fillna("unknown"),
        prefecture_name=targets["prefecture_name"].fillna(""),
    )
    for (code, name, layer), count in (
        prefectures.groupby(["prefecture_code", "prefecture_name", "layer"]).size().items()
    ):
        rows.append(
            {"dimension": "prefecture", "value": code, "name": name, "layer": layer, "count": int(count)}
        )
    table = pd.DataFrame(rows, columns=["dimension", "value", "name", "layer", "count"])
    order = {
        "layer": lambda v: layer_rank.get(v, len(LAYERS)),
        "kind": lambda v: kind_rank.get(v, 99),
        "category": lambda v: CATEGORIES.index(v) if v in CATEGORIES else len(CATEGORIES),
        "prefecture": lambda v: 0,
    }
    table["_dim"] = table["dimension"].map(DIMENSIONS.index)
    table["_layer"] = table["layer"].map(lambda v: layer_rank.get(v, -1))
    table["_rank"] = [order[d](v) for d, v in zip(table["dimension"], table["value"], strict=True)]
    return (
        table.sort_values(["_dim", "_layer", "_rank", "value"], kind="stable")
        .drop(columns=["_dim", "_layer", "_rank"])
        .reset_index(drop=True)
    )


def format_text(targets: pd.DataFrame) -> str:
    """Readable tables: layers (with active units), kinds, layer × category, prefecture × layer."""
    inactive = targets["status"].isin(INACTIVE_STATUSES)
    present_layers = [layer for layer in LAYERS if layer in set(targets["layer"])]
    layers = (
        pd.DataFrame(
            {"targets": targets.groupby("layer").size(), "active": targets[~inactive].groupby("layer").size()}
        )
        .reindex(present_layers)
        .fillna(0)
        .astype(int)
    )
    long = summarise(targets)
    kinds = long[long["dimension"] == "kind"].set_index(["layer", "value"])[["count"]]
    kinds.index.names = ["layer", "kind"]
    categories = (
        pd.crosstab(targets["layer"], targets["category"], margins=True, margins_name="total")
        .reindex(index=[*present_layers, "total"], columns=[*[c for c in CATEGORIES if c in set(targets["category"])], "total"])
    )  # fmt: skip
    by_prefecture = pd.crosstab(
        [targets["prefecture_code"].fillna("unknown"), targets["prefecture_name"].fillna("")],
        targets["layer"],
        margins=True,
        margins_name="total",
    )
    by_prefecture = by_prefecture.reindex(
        columns=[*[c for c in LAYERS if c in by_prefecture.columns], "total"]
    )
    simulated = bool(targets["simulated"].fillna(False).all()) if "simulated" in targets else False
    title = f"XunHu registry: {len(targets)} targets, {int((~inactive).sum())} active"
    if simulated:
        title += " (all SIMULATED demo data)"
    sections = [
        title,
        "By layer\n" + layers.to_string(),
        "By kind\n" + kinds.to_string(),
        "By layer and category\n" + categories.to_string(),
        "By prefecture\n" + by_prefecture.to_string(),
    ]
    return "\n\n".join(sections) + "\n"


def to_json(table: pd.DataFrame) -> dict[str, object]:
    """The long table nested by dimension: ``{"total": n, "layer": {...}, "kind": {layer: {...}}, ...}``."""
    result: dict[str, object] = {"total": int(table.loc[table["dimension"] == "layer", "count"].sum())}
    result["layer"] = {r.value: r.count for r in table[table["dimension"] == "layer"].itertuples()}
    for dimension in ("kind", "category"):
        nested: dict[str, dict[str, int]] = {}
        for r in table[table["dimension"] == dimension].itertuples():
            nested.setdefault(r.layer, {})[r.value] = r.count
        result[dimension] = nested
    prefectures: dict[str, dict[str, object]] = {}
    for r in table[table["dimension"] == "prefecture"].itertuples():
        entry = prefectures.setdefault(r.value, {"name": r.name, "total": 0, "layer": {}})
        entry["layer"][r.layer] = r.count
        entry["total"] += r.count
    result["prefecture"] = prefectures
    return result


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: print the summary; 1 if the registry cannot be read."""
    parser = argparse.ArgumentParser(prog="python -m layers summary", description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=("text", "csv", "json"), default="text")
    args = parser.parse_args(argv)
    try:
        targets = load_targets()
    except Exception as error:  # any unreadable registry file: report it without a traceback
        print(f"error: cannot read the registry: {error}", file=sys.stderr)
        return 1
    if args.format == "text":
        sys.stdout.write(format_text(targets))
    elif args.format == "csv":
        sys.stdout.write(safe_frame(summarise(targets)).to_csv(index=False, lineterminator="\n"))
    else:
        sys.stdout.write(json.dumps(to_json(summarise(targets)), ensure_ascii=False, indent=2) + "\n")
    return 0
