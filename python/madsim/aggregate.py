"""The path the API pages first gave ``reduce_records`` (kept so that
``from madsim.aggregate import reduce_records`` works); the aggregation
itself is ``madsim.run.aggregate``."""

from .run.aggregate import reduce_records

__all__ = ["reduce_records"]
