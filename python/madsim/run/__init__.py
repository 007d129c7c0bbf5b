"""A run, from its arguments to its Dataset.

``simulate`` (a new run) and ``resume`` (a run continued) check their
arguments (``options``) and hand them to ``driver``, which advances the
compiled kernel in chunks of generations, records the chosen columns on the
``records`` schedule and builds the Dataset; ``aggregate`` reduces records
over replicas as they come and ``stream`` writes them to a zarr store.
The public names are re-exported by ``madsim`` (``madsim.simulate``,
``madsim.resume``, ``madsim.every``, ``madsim.Aggregate``, ...).
"""
