"""The simulated world: a made-up enforcement registry and a made-up past, for demos and tests.

XunHu ships without real enforcement data, so this package invents it on the real geography:

* :mod:`simulation.registry` – the registry of pollution sources, drinking-water zones, protected
  areas and the officer roster (``python -m simulation registry``, byte-identical per seed);
* :mod:`simulation.history` – past weeks planned and "executed" with realistic noise: plans, visits,
  GPS tracks, cases, complaints and their follow-up tasks (``python -m simulation history``);
* :mod:`simulation.snapshot` – the prebuilt history the dashboard installs on first start.

Everything it writes is flagged simulated (``simulated = true`` in the registry files,
``simulated = 1`` and the actor ``simulation`` in the records database), so it can never be
mistaken for an inspection that happened.

It is a package of its own because data flows one way, layers → planning → records → coverage,
and the simulation sits on top of all of them: it generates layers, runs the planner and writes
records. The core packages hold only what real data needs and never import this one.
"""
