"""Tokenizing for inference with the `tokenizers` library alone.

`transformers.AutoTokenizer` imports torch and much of transformers (about 2 s of a
short `classify` run); the model directory's `tokenizer.json` already holds the whole
pipeline (normaliser, word pieces, [CLS]/[SEP] template), so the Rust tokenizer it
wraps gives the same ids without those imports (tests/test_classifier.py checks).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from conflictclf.data.errors import ModelError

TOKENIZER_FILE = "tokenizer.json"


class Tokenizer:
    """Token ids for sentences, truncated like `AutoTokenizer(..., truncation=True)`."""

    def __init__(self, path: Path, max_length: int) -> None:
        from tokenizers import Tokenizer as RustTokenizer

        file = path / TOKENIZER_FILE
        if not file.is_file():
            raise ModelError(f"{path}: {TOKENIZER_FILE} is missing (save the tokenizer with a fast tokenizer)")
        try:
            self._tok = RustTokenizer.from_file(str(file))
        except Exception as exc:  # the Rust side raises untyped errors on bad files
            raise ModelError(f"{file}: cannot load tokenizer ({exc.__class__.__name__})") from None
        self._tok.no_padding()
        self._tok.enable_truncation(max_length)
        self.pad_token_id = self._pad_id(path)

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(list(texts))]

    def overflows(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text is longer than `max_length` tokens, so that the model sees only its start."""
        return [bool(e.overflowing) for e in self._tok.encode_batch(list(texts))]

    def _pad_id(self, path: Path) -> int:
        name = None
        for fname in ("special_tokens_map.json", "tokenizer_config.json"):
            try:
                pad = json.loads((path / fname).read_text(encoding="utf-8")).get("pad_token")
            except (OSError, ValueError):
                continue
            name = pad.get("content") if isinstance(pad, dict) else pad
            if name:
                break
        pad_id = self._tok.token_to_id(name) if name else None
        return int(pad_id) if pad_id is not None else 0
