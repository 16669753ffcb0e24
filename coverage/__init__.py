"""Coverage: H3 grid, attention weights, covered cells, blind spots and per-region statistics.

Modules: :mod:`coverage.grid` (the hexagon grid and its regions), :mod:`coverage.weights`
(attention per cell), :mod:`coverage.covered` (cells reached by visits and GPS tracks),
:mod:`coverage.sites` (due, inspected, overdue sites), :mod:`coverage.stats` (per-region
statistics, ``report``), :mod:`coverage.blindspots` (``blindspots``), :mod:`coverage.plan_coverage`
(expected coverage of a plan and plan-vs-actual, ``plan``). ``docs/coverage.md`` has the formulas.
"""
