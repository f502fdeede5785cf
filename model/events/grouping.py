"""One article's labelled sentences grouped into the acts they report (events).

An article may tell of several acts: the attack it leads with, an earlier one it recalls,
the strike that answered it. Reading the sentences in order, an `attack` or `retaliation`
sentence joins the latest act it does not contradict (facets.compare, strictly: another
day or another town is another act) and otherwise starts a new one. Then:

- a `claim` sentence is linked to the act it claims: its own act when it also reports one,
  else the act its roles agree with best, else the article's first act;
- a `retaliation` sentence that names its cause ("in response to Sunday's rocket fire on
  Metula") is split at the cue: the roles after it describe the cause, an act of its own,
  and the retaliation `answers` it;
- `threat` sentences form threat events, one per actor.

Nothing here is learnt: the rules are the ones an analyst applies, over the tagger's spans.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from conflictclf.model.events.facets import Facets, compare

ACT_LABELS = ("attack", "retaliation")
# Where a sentence turns to the act it answers ("in response to", "a reprisal for", "to avenge").
CAUSE_CUE = re.compile(r"\b(?:(?:retaliat\w*|reprisals?|revenge|response|responding|answer(?:ing)?)\s+(?:for|to|against)|"
                       r"to avenge|avenging|in return for)\b", re.I)
# A sentence that sums up a history ("has repeatedly attacked", "since 2019") tells of other
# acts than the one the article reports: it starts a background event that bare sentences
# do not join.
BACKGROUND_CUE = re.compile(r"\b(?:since (?:19|20)\d\d|since the|since then|in recent (?:days|weeks|months|years)|"
                            r"previously|previous (?:attacks|bombings|strikes|raids|incidents|killings)|(?:in )?past (?:years|months|decades)|similar (?:attacks|strikes|raids|incidents)|"
                            r"(?:near-)?daily (?:attacks|strikes|raids)|sporadic|"
                            r"the (?:latest|second|third|fourth|fifth|sixth) (?:in a|such|\w+ attack)|"
                            r"(?:has|have|had) (?:repeatedly|regularly|frequently|often)|over the (?:past|last)|"
                            r"(?:so far |earlier )?this (?:year|month)|last year|in the past|a (?:series|string|wave) of|"
                            r"dozens of (?:attacks|raids|strikes)|hundreds of (?:attacks|raids|strikes))\b", re.I)
# Weaker cues, taken only in a sentence the model labels `retaliation`.
AFTER_CUE = re.compile(r"\b(?:after|following)\b", re.I)


@dataclass
class Mention:
    """A sentence (or the part of one) that reports an act, a claim or a threat."""

    article: str
    sentence: int  # the sentence's index in its article
    start: int  # the sentence's offsets in the article text (as classify/batch give them)
    end: int
    text: str
    labels: tuple[str, ...]
    roles: list[dict[str, Any]]  # role spans (offsets into `text`) that describe this act

    def facets(self) -> Facets:
        f = Facets()
        f.add_roles(self.roles)
        return f

    def role_texts(self, role: str) -> list[str]:
        return [r["text"] for r in self.roles if r.get("role") == role]

    def to_dict(self) -> dict[str, Any]:
        return {"article": self.article, "sentence": self.sentence, "start": self.start, "end": self.end,
                "text": self.text, "labels": list(self.labels), "roles": self.roles}


@dataclass
class Event:
    """One act (or threat) as one article reports it."""

    id: str  # "<article>#<n>"
    article: str
    kind: str  # "attack" or "threat"
    published: str | None  # the article's date (ISO), if known
    outlet: str | None
    mentions: list[Mention] = field(default_factory=list)
    claims: list[Mention] = field(default_factory=list)
    retaliation: bool = False  # reported as answering another act
    answers: str | None = None  # the id of the event it answers, when the article names it
    background: bool = False  # recalled history, not the news of the article
    filed_in: str | None = None  # the country of the article's dateline, if any

    def facets(self) -> Facets:
        f = Facets()
        for m in self.mentions + self.claims:
            f.add_roles(r for r in m.roles if r.get("role") != "speaker")
            if self.kind == "threat":  # who threatens is the threat's actor, whether as speaker or subject
                f.perpetrators.extend(m.role_texts("speaker"))
        return f

    def claimants(self) -> list[str]:
        """Who claims it: the claim sentences' speakers, else their perpetrators; a claimant
        named only as "it" or "the group" is the act's perpetrator named elsewhere."""
        from conflictclf.model.events.facets import content_words

        out: list[str] = []
        for m in self.claims:
            out.extend(t for t in m.role_texts("speaker") or m.role_texts("perpetrator") if content_words(t))
        if self.claims and not out:
            out = [t for x in self.mentions for t in x.role_texts("perpetrator") if content_words(t)][:1]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "article": self.article, "kind": self.kind, "published": self.published,
                "outlet": self.outlet, "retaliation": self.retaliation, "answers": self.answers,
                "background": self.background, "filed_in": self.filed_in,
                "mentions": [m.to_dict() for m in self.mentions], "claims": [m.to_dict() for m in self.claims]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(d["id"], d["article"], d["kind"], d.get("published"), d.get("outlet"),
                   [Mention(**{**m, "labels": tuple(m["labels"])}) for m in d["mentions"]],
                   [Mention(**{**m, "labels": tuple(m["labels"])}) for m in d["claims"]],
                   bool(d.get("retaliation")), d.get("answers"), bool(d.get("background")), d.get("filed_in"))


def article_events(article: str, sentences: Sequence[dict[str, Any]], published: str | None = None,
                   outlet: str | None = None) -> list[Event]:
    """The acts, claims and threats of one article, from its sentence records in reading
    order (`classify --roles` records: text, labels, roles with values; index, start, end)."""
    b = _Builder(article, published, outlet)
    claims: list[Mention] = []
    for k, s in enumerate(sentences):
        labels = tuple(s.get("labels") or ())
        if not labels:
            continue
        m = Mention(article, int(s.get("index", k)), int(s.get("start", 0)), int(s.get("end", len(s["text"]))),
                    s["text"], labels, list(s.get("roles") or []))
        if any(lab in labels for lab in ACT_LABELS):
            b.act(m)
        if "claim" in labels:
            claims.append(m)
        if "threat" in labels:
            b.threat(m)
    for m in claims:
        b.claim(m)
    filed_in = _filed_in(sentences)
    for e in b.events:
        e.filed_in = filed_in
    return b.events


def _filed_in(sentences: Sequence[dict[str, Any]]) -> str | None:
    """The dateline's country, from the first two sentences (a headline may come first)."""
    from conflictclf.model.events.places import dateline_country

    for s in sentences[:2]:
        found = dateline_country(s["text"])
        if found:
            return found
    return None


class _Builder:
    def __init__(self, article: str, published: str | None, outlet: str | None) -> None:
        self.article, self.published, self.outlet = article, published, outlet
        self.events: list[Event] = []
        self.by_sentence: dict[int, tuple[Event, Mention]] = {}  # sentence -> the act it reports, and how

    def _new(self, kind: str) -> Event:
        e = Event(f"{self.article}#{len(self.events) + 1}", self.article, kind, self.published, self.outlet)
        self.events.append(e)
        return e

    def _place(self, m: Mention, kind: str, not_in: Event | None = None) -> Event:
        """The event of `kind` that `m` agrees with best (the latest on a tie) and does not
        contradict, other than `not_in`; or a new one."""
        if kind == "attack" and BACKGROUND_CUE.search(m.text):
            e = self._new(kind)
            e.background = True
            e.mentions.append(m)
            return e
        f = m.facets()
        answered = {e.answers for e in self.events if e.answers}
        best, best_score = None, float("-inf")
        for e in reversed(self.events):  # the latest first: it wins ties
            if e.kind != kind or e is not_in:
                continue
            verdict = compare(e.facets(), f, strict=True)
            if verdict.conflict:
                continue
            score = verdict.score
            if "retaliation" in m.labels:  # an answer's sentences go with the answer, not its cause
                score += 1.0 if e.retaliation else -1.0 if e.id in answered else 0.0
            if e.background and score <= 0:
                continue  # history is joined only by what agrees with it
            if score > best_score:
                best, best_score = e, score
        if best is not None:
            best.mentions.append(m)
            return best
        e = self._new(kind)
        e.mentions.append(m)
        return e

    def act(self, m: Mention) -> None:
        cue = CAUSE_CUE.search(m.text) or (AFTER_CUE.search(m.text) if "retaliation" in m.labels else None)
        if cue is None:
            e = self._place(m, "attack")
            e.retaliation = e.retaliation or "retaliation" in m.labels
            self.by_sentence[m.sentence] = (e, m)
            return
        # the part before the cue is the answer, the part after it the act it answers
        before = [r for r in m.roles if r["start"] < cue.start() or r.get("role") == "speaker"]
        after = [r for r in m.roles if r["start"] >= cue.end() and r.get("role") != "speaker"]
        part = Mention(m.article, m.sentence, m.start, m.end, m.text, m.labels, before)
        answer = self._place(part, "attack")
        answer.retaliation = True
        self.by_sentence[m.sentence] = (answer, part)  # a claim in it claims the answer
        # an act and what it answers are two acts, whatever their roles leave open
        cause = self._place(Mention(m.article, m.sentence, m.start, m.end, m.text, ("attack",), after), "attack",
                            not_in=answer)
        answer.answers = cause.id

    def threat(self, m: Mention) -> None:
        who = set(m.role_texts("speaker") + m.role_texts("perpetrator"))
        for e in reversed(self.events):
            if e.kind == "threat":
                known = {t for x in e.mentions for t in x.role_texts("speaker") + x.role_texts("perpetrator")}
                if not who or not known or who & known:
                    e.mentions.append(m)
                    return
        self._new("threat").mentions.append(m)

    def claim(self, m: Mention) -> None:
        own = self.by_sentence.get(m.sentence)
        if own is not None:
            own[0].claims.append(own[1])
            return
        acts = [e for e in self.events if e.kind == "attack"]
        if not acts:
            e = self._new("attack")  # "X claimed Tuesday's bombing in Y": the claim is the only report
            e.claims.append(m)
            return
        f = m.facets()
        scored = [(compare(e.facets(), f, strict=True), -k, e) for k, e in enumerate(acts)]
        fitting = [(v.score, k, e) for v, k, e in scored if not v.conflict]
        # best agreement; ties go to the article's earliest act, the one it leads with
        best = max(fitting, key=lambda x: (x[0], x[1]))[2] if fitting else acts[0]
        best.claims.append(m)
