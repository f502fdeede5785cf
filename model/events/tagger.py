"""`RoleTagger`: role spans (data/roles.py) read off a sentence by a token-classification model.

The model sits in the `roles/` folder of a model directory, written by train/roles.py. It
has two sigmoid outputs per role and token, "this token begins a span" (B) and "this token
continues one" (I), so one stretch of text can hold two roles at once (a speaker who is
also the perpetrator; the dead who are the only mention of the target), which a softmax
over BIO tags cannot say. It is a plain `AutoModelForTokenClassification`, so it loads
anywhere transformers runs; apply a sigmoid to its logits, not a softmax.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from conflictclf.data.errors import ModelError
from conflictclf.data.roles import Span

ROLES_DIR = "roles"
ROLES_META = "roles.json"
# A token starts or continues a span when its sigmoid score reaches this. The decision is
# per token, and 0.5 is where the training loss puts the even odds.
DEFAULT_SPAN_THRESHOLD = 0.5


def tag_names(roles: Sequence[str]) -> list[str]:
    """Output columns: B-role and I-role for every role, in role order."""
    return [f"{p}-{r}" for r in roles for p in ("B", "I")]


def decode(probs: np.ndarray, offsets: Sequence[tuple[int, int]], text: str, roles: Sequence[str],
           threshold: float | Mapping[str, float] = DEFAULT_SPAN_THRESHOLD) -> list[Span]:
    """Character spans from one sentence's token scores (tokens x 2*roles).

    `offsets`: each token's (start, end) in `text`; special tokens are (0, 0). A span opens
    at a B token, or at an I token with none open, and grows over the I tokens that follow.
    `threshold`: one for every role, or one per role (tuned on dev by train/roles.py).
    """
    spans: list[Span] = []
    for k, role in enumerate(roles):
        begin, inside = probs[:, 2 * k], probs[:, 2 * k + 1]
        cut = threshold if isinstance(threshold, (int, float)) else threshold.get(role, DEFAULT_SPAN_THRESHOLD)
        current: list[int] | None = None
        for t, (a, b) in enumerate(offsets):
            if b <= a:  # special token or padding
                continue
            if begin[t] >= cut or (inside[t] >= cut and current is None):
                if current is not None:
                    spans.append(_span(role, current, text))
                current = [a, b]
            elif inside[t] >= cut and current is not None:
                current[1] = b
            elif current is not None:
                spans.append(_span(role, current, text))
                current = None
        if current is not None:
            spans.append(_span(role, current, text))
    kept = {s for s in spans if any(ch.isalnum() for ch in s.text)}
    return sorted(kept, key=lambda s: (s.start, s.end, list(roles).index(s.role)))


def _span(role: str, bounds: list[int], text: str) -> Span:
    """The span, widened to whole words (a word-piece model may start inside one) and trimmed."""
    a, b = bounds
    while a > 0 and text[a - 1].isalnum() and text[a].isalnum():
        a -= 1
    while b < len(text) and text[b].isalnum() and text[b - 1].isalnum():
        b += 1
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    # A span never ends on a function word or a comma ("Gunmen on", "Kidal,"): the tagger's
    # last token can spill one word past the name, and no role's phrase ends that way.
    while True:
        tail = _TRAILING.search(text, a, b)
        if tail is None or tail.start() <= a:
            break
        b = tail.start()
    return Span(role, a, b, text[a:b])


_TRAILING = re.compile(r"(?:[\s,;:]+|\s+(?:on|in|at|of|by|for|from|to|with|near|and|or|the|a|an|after|as|who|which|that))$",
                       re.I)


def has_roles(model_dir: Path) -> bool:
    return (model_dir / ROLES_DIR / ROLES_META).is_file()


@lru_cache(maxsize=2)
def cached_tagger(model_dir: Path | None) -> RoleTagger:
    """A model directory's role tagger, loaded once per process (a Ray actor or a server
    answers many requests with it)."""
    if model_dir is None:
        raise ModelError("roles need a model loaded from a directory")
    return RoleTagger.from_pretrained(model_dir)


class RoleTagger:
    """Role spans for sentences.

    >>> tagger = RoleTagger.from_pretrained(model_dir)
    >>> tagger.tag(["Gunmen killed three soldiers in Gao on Sunday."])[0]
    [Span(role='perpetrator', start=0, end=6, text='Gunmen'), ...]
    """

    def __init__(self, model: Any, tokenizer: Any, roles: Sequence[str], max_length: int,
                 threshold: float | Mapping[str, float] = DEFAULT_SPAN_THRESHOLD,
                 meta: dict[str, Any] | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.roles = list(roles)
        self.max_length = max_length
        self.threshold = threshold
        self.meta = meta or {}

    @classmethod
    def from_pretrained(cls, model_dir: str | Path) -> RoleTagger:
        """The tagger inside a model directory (its `roles/` folder); safetensors only."""
        path = Path(model_dir).expanduser() / ROLES_DIR
        if not (path / ROLES_META).is_file():
            raise ModelError(f"{Path(model_dir)}: this model has no role tagger (train it on data with role "
                             "spans, e.g. the bundled corpus)")
        try:
            meta = json.loads((path / ROLES_META).read_text(encoding="utf-8"))
            roles, max_length = list(meta["roles"]), int(meta["max_length"])
            threshold: float | dict[str, float] = {r: float(t) for r, t in meta["thresholds"].items()} \
                if "thresholds" in meta else float(meta.get("threshold", DEFAULT_SPAN_THRESHOLD))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path / ROLES_META}: corrupt role tagger metadata ({exc.__class__.__name__})") from None
        from tokenizers import Tokenizer as RustTokenizer

        from conflictclf.model.backends import quiet_transformers

        quiet_transformers()
        from transformers import AutoModelForTokenClassification

        try:
            tok = RustTokenizer.from_file(str(path / "tokenizer.json"))
            model = AutoModelForTokenClassification.from_pretrained(
                path, local_files_only=True, use_safetensors=True, trust_remote_code=False).eval()
        except Exception as exc:  # tokenizers and transformers raise untyped errors on bad files
            raise ModelError(f"{path}: cannot load the role tagger ({exc.__class__.__name__}: {str(exc)[:200]})") from None
        if model.config.num_labels != 2 * len(roles):
            raise ModelError(f"{path}: the tagger has {model.config.num_labels} outputs, expected {2 * len(roles)}")
        tok.no_padding()
        tok.enable_truncation(max_length)
        return cls(model, tok, roles, max_length, threshold, meta)

    def scores(self, texts: Sequence[str], batch_size: int = 32) -> list[tuple[np.ndarray, list[tuple[int, int]]]]:
        """Per sentence: token scores (tokens x 2*roles) and the tokens' character offsets."""
        import torch

        encs = self.tokenizer.encode_batch(list(texts))
        out: list[tuple[np.ndarray, list[tuple[int, int]]]] = [None] * len(encs)  # type: ignore[list-item]
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        with torch.inference_mode():
            for s in range(0, len(order), batch_size):
                idx = order[s:s + batch_size]
                width = max(len(encs[i].ids) for i in idx)
                ids = np.zeros((len(idx), width), dtype=np.int64)
                mask = np.zeros_like(ids)
                for row, i in enumerate(idx):
                    n = len(encs[i].ids)
                    ids[row, :n], mask[row, :n] = encs[i].ids, 1
                logits = self.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits
                probs = torch.sigmoid(logits.float()).numpy()
                for row, i in enumerate(idx):
                    n = len(encs[i].ids)
                    offs = [tuple(o) if enc_type else (0, 0)
                            for o, enc_type in zip(encs[i].offsets, _word_tokens(encs[i]))]
                    out[i] = (probs[row, :n], offs)
        return out

    def tag(self, texts: Sequence[str], batch_size: int = 32) -> list[list[Span]]:
        """The role spans of every sentence, offsets into that sentence."""
        return [decode(p, offs, text, self.roles, self.threshold)
                for (p, offs), text in zip(self.scores(texts, batch_size), texts)]


def _word_tokens(enc: Any) -> list[bool]:
    """Which tokens come from the text (not [CLS]/[SEP]/<s>)."""
    return [not special for special in enc.special_tokens_mask]
