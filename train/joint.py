"""Role spans as a second objective for the sentence encoder (`TrainConfig.role_loss_weight`).

While the sentence classifier trains, a token head on its encoder learns the role spans
(begins / continues a span, per role, as the role tagger in train/roles.py does) from the
labelled sentences that carry them. The loss is the labels' loss plus the weight times the
spans' loss. The encoder thus has to find who did it, to whom and who says so, which is
what `claim` and `retaliation` turn on. The head is taken off after training: the saved
model is the plain sequence classifier (the spans users get still come from the role
tagger beside it), so it loads anywhere transformers runs, exactly as before.

Measured on the real-news development set (docs/accuracy.md): weight 0.2 against none,
three seeds each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conflictclf.data.corpus import Record
from conflictclf.data.roles import ROLES, record_spans
from conflictclf.train.span_targets import IGNORE, token_targets

ROLE_COLUMN = "role_labels"
HEAD, DROPOUT = "role_head", "role_dropout"


def role_targets(records: list[Record], enc: dict[str, Any]) -> list[list[list[float]]]:
    """Per record, its tokens' B/I targets; all IGNORE for a record without role spans or
    labels (spans are annotated on labelled sentences only; no span there is not a 0)."""
    out = []
    for i, rec in enumerate(records):
        spans = record_spans(rec)
        if spans is None or not rec.labels:
            out.append(np.full((len(enc["input_ids"][i]), 2 * len(ROLES)), IGNORE, dtype=np.float32).tolist())
        else:
            out.append(token_targets(enc["offset_mapping"][i], enc["special_tokens_mask"][i], spans).tolist())
    return out


def has_role_targets(rows: list[list[list[float]]]) -> bool:
    return any((np.asarray(r) != IGNORE).any() for r in rows)


def target_rows(rows: list[list[list[float]]]) -> np.ndarray:
    """Every token's targets that a loss sees, stacked (for the positives' weights)."""
    return np.concatenate([a[(a != IGNORE).all(axis=1)] for a in (np.asarray(r, dtype=np.float32) for r in rows)])


def attach_head(model) -> None:
    import torch

    setattr(model, HEAD, torch.nn.Linear(model.config.hidden_size, 2 * len(ROLES)))
    setattr(model, DROPOUT, torch.nn.Dropout(0.1))


def detach_head(model) -> None:
    """Back to the plain classifier, before thresholds are tuned and the model is saved."""
    for name in (HEAD, DROPOUT):
        if hasattr(model, name):
            delattr(model, name)


def collator(tokenizer):
    """Pads the sentence batch and its token targets (IGNORE past each sentence's end)."""
    import torch

    def collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
        batch = tokenizer.pad([{k: r[k] for k in ("input_ids", "attention_mask")} for r in rows], return_tensors="pt")
        width = batch["input_ids"].shape[1]
        y = np.full((len(rows), width, 2 * len(ROLES)), IGNORE, dtype=np.float32)
        for i, r in enumerate(rows):
            a = np.asarray(r[ROLE_COLUMN], dtype=np.float32)
            y[i, :len(a)] = a
        batch[ROLE_COLUMN] = torch.from_numpy(y)
        batch["labels"] = torch.tensor([r["labels"] for r in rows], dtype=torch.float32)
        return batch

    return collate


def joint_trainer_class():
    """A Trainer whose loss adds the role spans' loss (imported late: transformers is heavy)."""
    import torch
    from transformers import Trainer
    from transformers.modeling_outputs import SequenceClassifierOutput

    class JointTrainer(Trainer):
        def __init__(self, *args: Any, role_weight: float, role_pos_weight: np.ndarray, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.role_weight = role_weight
            self.role_pos_weight = torch.tensor(role_pos_weight)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                        output_hidden_states=True)
            loss = self.compute_loss_func(out, inputs["labels"])
            targets = inputs[ROLE_COLUMN]
            rows = (targets != IGNORE).all(dim=-1)
            if rows.any():
                head, drop = getattr(model, HEAD), getattr(model, DROPOUT)
                logits = head(drop(out.hidden_states[-1]))[rows].float()
                loss = loss + self.role_weight * torch.nn.functional.binary_cross_entropy_with_logits(
                    logits, targets[rows], pos_weight=self.role_pos_weight.to(logits.device))
            # only the sentence logits go on to evaluation (no hidden states kept)
            return (loss, SequenceClassifierOutput(loss=loss, logits=out.logits)) if return_outputs else loss

    return JointTrainer
