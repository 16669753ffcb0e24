"""Derive ``data/geo/elevation_xinjiang.npz`` from pvlib's global altitude grid (run once, by hand).

pvlib (BSD-3-Clause) ships ``pvlib/data/Altitude.h5``: one uint8 dataset ``Altitude`` of
2160 x 4320 cells (1/12 degree, about 9 km), row 0 at 90 N, column 0 at 180 W, cell centres
half a cell in. Values are 28 m steps from -450 m (``value * 28 - 450``); 255 means no data.
This is how ``pvlib.location.lookup_altitude`` reads it; the grid was aggregated by Mapzen
(Joerd terrain tiles) from SRTM, GMTED2010, ETOPO1 and national DEMs.

This script clips the Xinjiang box (lon 73-97 E, lat 34-50 N), converts to metres and writes an
int16 grid with its cell-centre axes (ascending latitude, so scipy's RegularGridInterpolator can
use it as is). pvlib and h5py are needed only here, never at run time:

    python -m venv /tmp/pvenv && /tmp/pvenv/bin/pip install pvlib h5py
    /tmp/pvenv/bin/python tools/derive_elevation_grid.py [--out data/geo/elevation_xinjiang.npz]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

#: Clip box (lon_min, lat_min, lon_max, lat_max): layers.schema.XINJIANG_BBOX, repeated here so
#: the script runs in a throwaway venv without the project installed.
BBOX = (73.0, 34.0, 97.0, 50.0)
CELLS_PER_DEGREE = 12
STEP_M = 28
OFFSET_M = -450
NODATA = 255


def derive(altitude_h5: Path) -> dict[str, np.ndarray]:
    """The clipped grid: ``elevation_m`` (lat x lon, int16), ``lon``, ``lat`` (cell centres)."""
    import h5py  # only needed for the derivation

    with h5py.File(altitude_h5, "r") as handle:
        raw = handle["Altitude"][:]
    n_lat, n_lon = raw.shape
    lat_centres = 90.0 - (np.arange(n_lat) + 0.5) / CELLS_PER_DEGREE
    lon_centres = -180.0 + (np.arange(n_lon) + 0.5) / CELLS_PER_DEGREE
    lon_min, lat_min, lon_max, lat_max = BBOX
    rows = np.flatnonzero((lat_centres >= lat_min) & (lat_centres <= lat_max))
    cols = np.flatnonzero((lon_centres >= lon_min) & (lon_centres <= lon_max))
    clip = raw[np.ix_(rows, cols)].astype(np.int32)
    # No data is rare inland; pvlib itself falls back to 0 m, and so do we.
    metres = np.where(clip == NODATA, 0, clip * STEP_M + OFFSET_M)
    order = np.argsort(lat_centres[rows])  # ascending latitude
    return {
        "elevation_m": metres[order].astype(np.int16),
        "lon": lon_centres[cols].astype(np.float64),
        "lat": lat_centres[rows][order].astype(np.float64),
        "source": np.array(
            "pvlib data/Altitude.h5 (BSD-3-Clause; Mapzen/Joerd terrain: SRTM, GMTED2010, ETOPO1), "
            "1/12 degree, 28 m steps"
        ),
    }


def main(argv: list[str]) -> int:
    """Write the clipped grid; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/geo/elevation_xinjiang.npz"))
    parser.add_argument("--altitude-h5", type=Path, help="default: the installed pvlib's data/Altitude.h5")
    args = parser.parse_args(argv)
    source = args.altitude_h5
    if source is None:
        import pvlib

        source = Path(pvlib.__file__).parent / "data" / "Altitude.h5"
    grid = derive(source)
    np.savez_compressed(args.out, **grid)
    elevation = grid["elevation_m"]
    print(
        f"{args.out}: {elevation.shape[0]} x {elevation.shape[1]} cells, "
        f"{elevation.min()}..{elevation.max()} m, {args.out.stat().st_size / 1024:.0f} KB",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
