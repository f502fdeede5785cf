"""The batch engines: `local` (one process, resumable chunks) and `ray` (a Ray cluster, resumable units).

Both share `common` (options, counts, resume state, manifest), `rows` (how a part's
rows are classified), `units` (the committed unit of work) and `assemble` (parts into
OUTPUT), so they give the same rows, labels, scores and rejects.
"""

from conflictclf.model.engines.common import BatchOptions, BatchSummary
from conflictclf.model.engines.local import run_batch
from conflictclf.model.engines.ray import run_batch_ray

__all__ = ["BatchOptions", "BatchSummary", "run_batch", "run_batch_ray"]
