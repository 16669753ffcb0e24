"""``python -m layers import FILE``: validate a file and merge it into the registry, all or nothing.

Exit status: 0 when the file was imported, 1 when it had any error (then nothing was written),
2 for a usage error. The report is the same as ``python -m layers check`` prints.
"""

from __future__ import annotations

import argparse

from layers.check import as_text, file_options, read_options
from layers.importer import import_file
from layers.problems import LayerFileError, Problem


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m layers import",
        description="Import a target file into the registry (data/registry) only if it validates.",
    )
    parser.add_argument("file", metavar="FILE")
    file_options(parser)
    parser.add_argument(
        "--update", action="store_true", help="replace stored targets whose site_id the file repeats"
    )
    return parser


def main(argv: list[str]) -> int:
    """Import ``argv``'s file; print the validation report and what changed."""
    args = _parser().parse_args(argv)
    try:
        result = import_file(args.file, update=args.update, **read_options(args))
    except LayerFileError as err:
        print(as_text(args.file, None, [Problem(args.file, None, "file", "", str(err))]))
        print("nothing imported")
        return 1
    except Exception as err:  # a file GDAL half-reads must never end in a traceback (as in check)
        reason = f"{args.file}: could not be read ({type(err).__name__}: {err}); please report this file"
        print(as_text(args.file, None, [Problem(args.file, None, "file", "", reason)]))
        print("nothing imported")
        return 1
    report = result.report
    print(as_text(args.file, report, report.problems + report.repairs))
    if not result.ok:
        print("nothing imported: fix the errors above and import again")
        return 1
    files = ", ".join(str(path) for path in result.written) or "none"
    print(f"imported: {result.added} added, {result.replaced} replaced; files written: {files}")
    return 0
