"""``python -m layers check FILE...``: validate target files and list every problem.

Exit status: 0 when every file is valid (repairs and warnings allowed), 1 when any file has an
error or cannot be read, 2 for a usage error. Bad input never produces a traceback.
Site ids are also checked across the files given together, as if they were one import.
"""

from __future__ import annotations

import argparse
import json

from layers import office
from layers.problems import LayerFileError, Problem
from layers.schema import LAYERS
from layers.validate import ValidationReport, check_file

ROW_CONVENTIONS = {
    "line": "CSV line numbers; the header is line 1",
    "feature": "feature numbers; the first feature is 1",
    "fid": "GeoPackage fid",
    "row": "spreadsheet row numbers as Excel shows them",
}


def _layer_argument(text: str) -> str:
    """``--layer`` in English or Chinese (污染源, 水源地, 保护区)."""
    layer = office.layer_value(text)
    if layer not in LAYERS:
        known = ", ".join(
            f"{name} ({'/'.join(k for k, v in office.LAYER_VALUES.items() if v == name)})" for name in LAYERS
        )
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r}; known layers: {known}")
    return layer


def read_options(args: argparse.Namespace) -> dict[str, object]:
    """The keyword arguments of ``check_file``/``import_file`` that :func:`file_options` parsed."""
    return {
        "source_layer": args.source_layer,
        "crs": args.crs,
        "layer": args.layer,
        "gcj02": args.gcj02,
        "bd09": args.bd09,
        "sheet": args.sheet,
        "encoding": args.encoding,
        "packed_dms": args.packed_dms,
    }


def file_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options that say how to read a target file (shared with ``layers import``)."""
    parser.add_argument("--crs", help="CRS of the coordinates when the file does not say (e.g. EPSG:32645)")
    web = parser.add_mutually_exclusive_group()
    web.add_argument(
        "--gcj02",
        action="store_true",
        help="coordinates were copied from a Chinese web map (GCJ-02: Amap, Tencent)",
    )
    web.add_argument(
        "--bd09",
        action="store_true",
        help="coordinates were copied from Baidu Maps' coordinate picker (BD-09)",
    )
    parser.add_argument(
        "--layer",
        type=_layer_argument,
        metavar="LAYER",
        help=f"target layer of rows without a layer column: {', '.join(LAYERS)} (or 污染源, 水源地, 保护区)",
    )
    parser.add_argument("--source-layer", help="layer inside a GeoPackage (or .shp inside a zip) to read")
    parser.add_argument("--sheet", help="Excel sheet to read, by name or number (default: the first)")
    parser.add_argument(
        "--encoding", help="text encoding of a Shapefile's .dbf (default: .cpg, else detected), e.g. GB18030"
    )
    parser.add_argument(
        "--packed-dms",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="decimal coordinates are packed ddd.mmss (87.4119 = 87°41′19″); --no-packed-dms: they are "
        "decimal degrees (default: rows that look packed are flagged)",
    )
    return parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m layers check",
        description="Validate target files (GeoJSON, GeoPackage, zipped Shapefile, CSV or Excel with lon/lat).",
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    file_options(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    return parser


def main(argv: list[str]) -> int:
    """Check every file in ``argv``; print the problems; return the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # argparse has printed the usage message
        return int(stop.code or 0)
    results: list[tuple[str, ValidationReport | None, list[Problem]]] = []
    seen_ids: dict[str, str] = {}
    for path in args.files:
        try:
            report = check_file(path, existing_ids=seen_ids, **read_options(args))
        except LayerFileError as err:
            results.append((path, None, [Problem(path, None, "file", "", str(err))]))
            continue
        except Exception as err:  # a file GDAL half-reads must never end in a traceback
            reason = f"{path}: could not be checked ({type(err).__name__}: {err}); please report this file"
            results.append((path, None, [Problem(path, None, "file", "", reason)]))
            continue
        results.append((path, report, report.problems + report.repairs))
        seen_ids.update(dict.fromkeys(report.targets["site_id"], path))
    failed = sum(report is None or not report.ok for _, report, _ in results)
    if args.format == "json":
        print(
            json.dumps(
                [_as_json(path, report, problems) for path, report, problems in results],
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for path, report, problems in results:
            print(as_text(path, report, problems))
        print(f"{len(results)} file(s) checked: {len(results) - failed} valid, {failed} with errors")
    return 1 if failed else 0


def _counts(problems: list[Problem]) -> dict[str, int]:
    return {
        severity: sum(p.severity == severity for p in problems) for severity in ("error", "repair", "warning")
    }


def as_text(path: str, report: ValidationReport | None, problems: list[Problem]) -> str:
    """A readable report of one file: a status line, then one line per problem."""
    if report is None:
        return f"{problems[0].reason}\n"
    counts = _counts(problems)
    status = "OK" if report.ok else "ERRORS"
    head = (
        f"{path}: {status} — {len(report.targets)} valid target(s); {counts['error']} error(s), "
        f"{counts['repair']} repair(s), {counts['warning']} warning(s)"
    )
    labels = {p.row_label for p in problems if p.row is not None}
    notes = [f"  (rows are {ROW_CONVENTIONS.get(label, label)})" for label in sorted(labels)]
    return "\n".join([head, *notes, *(f"  {problem}" for problem in problems)]) + "\n"


def _as_json(path: str, report: ValidationReport | None, problems: list[Problem]) -> dict[str, object]:
    return {
        "file": path,
        "readable": report is not None,
        "ok": report is not None and report.ok,
        "valid_targets": 0 if report is None else len(report.targets),
        "counts": _counts(problems),
        "problems": [problem.as_dict() for problem in problems],
    }
