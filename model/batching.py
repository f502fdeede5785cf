"""Length-sorted, padded batches of token ids for a backend's forward passes.

Sorting by length before cutting batches pads each sentence only up to its neighbours'
length, so real text (short headlines beside long body sentences) wastes nothing on
padding. On the CPU a batch is `batch_size` sentences; a GPU backend also gives a token
budget (`Backend.token_budget`), and its batches of short sentences grow until the
padded batch would pass it (model/backends.py, CUDA_TOKEN_BUDGET, says why).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from conflictclf.model.tokenize import Tokenizer


def batch_bounds(lengths: Sequence[int], batch_size: int, token_budget: int | None = None
                 ) -> Iterator[tuple[int, int]]:
    """[start, end) of each batch over `lengths` sorted ascending.

    Each batch holds `batch_size` rows (the last may hold fewer); with a token budget it
    takes further rows while rows x its longest row stays within the budget. Since the
    lengths ascend, a batch's longest row is its last.
    """
    start, n = 0, len(lengths)
    while start < n:
        end = min(n, start + batch_size)
        if token_budget is not None:
            while end < n and (end + 1 - start) * lengths[end] <= token_budget:
                end += 1
        yield start, end
        start = end


def padded_batches(tokenizer: Tokenizer, texts: Sequence[str], batch_size: int, token_budget: int | None = None
                   ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(indices into texts, input ids, attention mask) per batch, each padded only to its own longest."""
    if not len(texts):
        return
    enc = tokenizer(texts)
    order = np.argsort([len(x) for x in enc], kind="stable")
    lengths = [len(enc[i]) for i in order]
    pad = tokenizer.pad_token_id
    for start, end in batch_bounds(lengths, batch_size, token_budget):
        idx = order[start:end]
        width = lengths[end - 1]
        ids = np.full((len(idx), width), pad, dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            ids[row, :len(enc[i])] = enc[i]
            mask[row, :len(enc[i])] = 1
        yield idx, ids, mask
