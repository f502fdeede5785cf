"""The model card (`README.md`) written into every model directory."""

from __future__ import annotations


def metrics_markdown(rep: dict) -> str:
    rows = ["| label | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for lab, m in rep["per_label"].items():
        rows.append(f"| {lab} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    rows.append(f"\nmacro-F1 **{rep['macro_f1']:.3f}**, micro-F1 {rep['micro_f1']:.3f}, "
                f"exact match {rep['exact_match']:.3f}, n = {rep['n']}")
    return "\n".join(rows)


# the Hugging Face hub's card header: how the hub and `pipeline` tooling read the folder
FRONT_MATTER = """---
library_name: transformers
pipeline_tag: text-classification
tags: [conflictclf, multi-label, conflict-news]
---
"""


def model_card(meta: dict) -> str:
    cfg = meta["config"]
    metrics = meta["metrics"]
    test = metrics.get("test")
    th = "\n".join(f"| {lab} | {t:.2f} |" for lab, t in meta["thresholds"].items())
    counts = meta["data_counts"]
    return FRONT_MATTER + f"""# conflictclf sentence classifier

Multi-label sentence classifier for conflict news, fine-tuned from `{cfg['base_model']}`
with conflictclf {meta['package_version']}. Labels: {', '.join(f'`{x}`' for x in meta['labels'])}.
A sentence may carry several labels or none.

## Intended use
Reading news articles sentence by sentence to find reported attacks, retaliation
framing, claims of responsibility and threats (see the annotation guide shipped
with conflictclf, `data/GUIDELINES.md`). Scores are per label (sigmoid); a label is
predicted when its score reaches the label's threshold below.

Load it with `conflictclf.model.EventClassifier.from_pretrained(DIR)` or with a plain
`transformers.pipeline("text-classification", model=DIR, top_k=None)`; the pipeline
applies a sigmoid (multi-label problem type) but not the tuned thresholds. conflictclf
also maps each label's score through the calibration stored in `conflictclf.json`
(`calibration`, fitted on dev), so the scores it reports are calibrated probabilities;
the thresholds below are on the raw sigmoid scale the pipeline gives, and mapped with them.

## Training data
{counts.get('train', 0)} training, {counts.get('dev', 0)} dev and {counts.get('test', 0)} test sentences
(data fingerprint `{meta['data_fingerprint']}`). Label counts per split:
`{meta['label_counts']}`.{_joint_note(cfg)}

## Decision thresholds (tuned per label on dev)
| label | threshold |
|---|---:|
{th}

## Metrics
Test split (held out; thresholds from dev):

{metrics_markdown(test) if test else 'No test split was given.'}

Dev split (used for early stopping and thresholds, so optimistic):

{metrics_markdown(metrics['dev'])}

{_roles_section(meta.get('roles'))}
## Training configuration
```json
{__import__('json').dumps(cfg, indent=2)}
```

## Limitations
- Trained on a few thousand sentences: five real articles plus sentences written
  by the conflictclf team in a wire-news register. Real outlets differ in style.
- English only; one sentence at a time, so cross-sentence context (who "it" is) is not used.
- Dev-tuned thresholds can be off for text far from the training data; pass an
  explicit threshold when recall or precision matters more.
"""


def _joint_note(cfg: dict) -> str:
    weight = cfg.get("role_loss_weight") or 0
    if not weight:
        return ""
    return (f"\n\nThe encoder was also trained on the sentences' role spans (who did what to whom, who "
            f"says so), through a token head whose loss was weighted {weight} and which was removed "
            "afterwards: this directory holds the plain sequence classifier.")


def _roles_section(roles: dict | None) -> str:
    """The role tagger in `roles/`, when one was trained, with its span F1 on test (or dev)."""
    if not roles:
        return ""
    split = "test" if roles.get("test") else "dev"
    scores = roles[split]
    rows = "\n".join(f"| {role} | {scores['exact'][role]['f1']:.3f} | {scores['overlap'][role]['f1']:.3f} | "
                     f"{scores['overlap'][role]['support']} |" for role in scores["overlap"])
    return f"""## Role tagger (`roles/`)
A token-classification model beside this one marks who did what to whom, where, when and how
many in each labelled sentence (`EventClassifier.roles`, `classify --roles`). It is a plain
`AutoModelForTokenClassification` with two outputs per role (begins, continues a span): apply a
sigmoid, not a softmax. Span F1 on the {split} split ({roles['counts'][split]} sentences):

| role | exact F1 | overlap F1 | spans |
|---|---:|---:|---:|
{rows}
"""
