"""Incidents as records: the PLOVER-shaped JSON record and the flat row an analyst opens.

The JSON record follows the field names of the PLOVER event format where it has one (`id`,
`date`, `event`, `actor`, `recipient`, `event_loc`, `size` with `dead` and `injured`,
`link`), and adds what incidents carry besides: the date's precision, every source, the
claim, and the evidence sentences with their offsets. Values that sources disagree on stay
a range, each source's value listed beside it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from conflictclf.model.events.facets import content_words
from conflictclf.model.events.grouping import Event, Mention
from conflictclf.model.events.incidents import Incident

# PLOVER's categories for what our labels report.
PLOVER_EVENT = {"attack": "ASSAULT", "threat": "THREATEN"}
PRONOUNS = frozenset("it its they them their he him his she her we us our i you who which".split())
FLAT_COLUMNS = ("id", "event", "mode", "background", "date", "date_precision", "country", "region", "place", "place_precision",
                "actor", "recipient", "dead_low", "dead_high", "injured_low", "injured_high", "claimed_by",
                "answers", "sources", "articles", "outlets", "first_report", "last_report", "evidence")


def incident_record(inc: Incident, answers: Sequence[str] = ()) -> dict[str, Any]:
    """The record of one incident; `answers`: the ids of the incidents it answers (known only
    once every incident is built: pipeline.py fills them in as it reads the records back)."""
    events = inc.events
    mentions = [(e, m) for e in events for m in e.mentions + e.claims]
    published = sorted(e.published for e in events if e.published)
    rec: dict[str, Any] = {
        "id": inc.id,
        "event": PLOVER_EVENT[inc.kind],
        "mode": "retaliation" if any(e.retaliation for e in events) else "",
        # recalled history ("has repeatedly attacked since 2019"), not news of the reports
        "background": all(e.background for e in events),
        **_date(inc),
        "actor": _actors([(e, m, "perpetrator") for e, m in mentions]),
        "recipient": _actors([(e, m, "target") for e, m in mentions]),
        "event_loc": _place(inc),
        "size": {"dead": _size(mentions, "killed"), "injured": _size(mentions, "injured")},
        "claimed_by": _claimants(events),
        "link": [{"type": "answers", "id": x} for x in answers],
        "source_count": len({e.article for e in events}),
        "sources": [{"article": e.article, "outlet": e.outlet, "published": e.published, "event": e.id}
                    for e in events],
        "first_report": published[0] if published else None,
        "last_report": published[-1] if published else None,
        "evidence": _evidence([(e, m, "report") for e in events for m in e.mentions]
                              + [(e, m, "claim") for e in events for m in e.claims]),
    }
    return rec


def _date(inc: Incident) -> dict[str, Any]:
    """The most reported exact day; else the most precise period; the other days sources give
    are listed, not averaged."""
    days = inc.facets.days
    exact = Counter(d for d, p in days if p == "day")
    if exact:
        day, _ = max(exact.items(), key=lambda kv: (kv[1], -kv[0].toordinal()))
        others = sorted(str(d) for d in exact if d != day)
        return {"date": day.isoformat(), "date_precision": "day", "date_other": others}
    for precision in ("week", "month", "year"):
        got = sorted(d for d, p in days if p == precision)
        if got:
            return {"date": got[0].isoformat(), "date_precision": precision, "date_other": []}
    published = sorted(e.published for e in inc.events if e.published)
    if published:  # nothing in the text: the first report's day, said to be that
        return {"date": published[0], "date_precision": "reported", "date_other": []}
    return {"date": None, "date_precision": None, "date_other": []}


def _place(inc: Incident) -> dict[str, Any]:
    rank = {"town": 3, "region": 2, "country": 1}
    resolved = [p for p in inc.facets.places if p.precision]
    if resolved:
        counts = Counter((p.name, p.country, p.region, p.precision) for p in resolved)
        (name, country, region, precision), _ = max(counts.items(), key=lambda kv: (rank[kv[0][3]], kv[1]))
        texts = [p.text for p in resolved if p.name == name]
        return {"name": name, "text": texts[0], "country": country, "admin1": region, "precision": precision,
                "resolved": True}
    text = Counter(p.text for p in inc.facets.places).most_common(1)[0][0] if inc.facets.places else None
    filed = Counter(e.filed_in for e in inc.events if e.filed_in)
    if filed:  # no place in the text resolved: the country the reports were filed from, said to be that
        return {"name": None, "text": text, "country": filed.most_common(1)[0][0], "admin1": None,
                "precision": "country", "resolved": True, "from": "dateline"}
    return {"name": None, "text": text, "country": None, "admin1": None, "precision": None, "resolved": False}


def _actors(found: Sequence[tuple[Event, Mention, str]]) -> list[dict[str, Any]]:
    """The phrases for one role across the reports, grouped by whom they name."""
    return _group_phrases((e.article, text) for e, m, role in found for text in m.role_texts(role))


def _claimants(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Who claimed it (Event.claimants: names, not "it"), grouped as actors are."""
    return _group_phrases((e.article, text) for e in events for text in e.claimants())


def _group_phrases(found: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """(article, phrase) pairs grouped when the phrases share a naming word ("JNIM", "JNIM
    fighters"), or are the same generic phrase ("gunmen"); pronouns left out (the name is in
    another sentence). Named groups first, then by how many articles used them; each shows
    its most specific phrase."""
    groups: list[dict[str, Any]] = []
    for article, text in found:
        if text.lower() in PRONOUNS:
            continue
        words = content_words(text)
        if words:
            g = next((g for g in groups if words & g["words"]), None)
        else:
            g = next((g for g in groups if not g["words"] and g["key"] == text.lower()), None)
        if g is None:
            g = {"words": set(), "key": text.lower(), "texts": Counter(), "articles": set()}
            groups.append(g)
        g["words"] |= words
        g["texts"][text] += 1
        g["articles"].add(article)
    groups.sort(key=lambda g: (-bool(g["words"]), -len(g["articles"])))
    return [{"text": max(g["texts"], key=lambda t: (len(content_words(t)), g["texts"][t], -len(t))),
             "variants": sorted(g["texts"]), "sources": len(g["articles"])} for g in groups]


def _size(mentions: Sequence[tuple[Event, Mention]], role: str) -> dict[str, Any] | None:
    """The range of the counts sources give ("at least 5" here, "seven" there: 5 to 7), with
    each source's own value."""
    given, seen = [], set()
    for e, m in mentions:
        for r in m.roles:
            v = r.get("value") or {}
            key = (e.article, m.sentence, r.get("start"))
            if r.get("role") == role and v.get("resolved") and key not in seen:
                seen.add(key)
                given.append({"article": e.article, "sentence": m.sentence, "text": r["text"], "low": v.get("low"),
                              "high": v.get("high")})
    if not given:
        return None
    lows = [g["low"] for g in given if g["low"] is not None]
    # the range spans every figure given; it stays open above only when no source gave an upper bound
    bounded = [g["high"] for g in given if g["high"] is not None]
    return {"low": min(lows) if lows else None, "high": max(bounded + lows) if bounded else None, "reports": given}


def _evidence(mentions: Sequence[tuple[Event, Mention, str]]) -> list[dict[str, Any]]:
    """Each sentence once, as a report, a claim or both, with the role spans it gave the incident."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for e, m, kind in mentions:
        ev = out.get((e.article, m.sentence))
        if ev is None:
            ev = out[(e.article, m.sentence)] = {
                "article": e.article, "outlet": e.outlet, "sentence": m.sentence, "start": m.start, "end": m.end,
                "text": m.text, "labels": list(m.labels), "as": kind, "roles": []}
        elif kind not in ev["as"].split("+"):
            ev["as"] = "report+claim"
        for r in m.roles:
            span = {k: r[k] for k in ("role", "start", "end", "text") if k in r}
            if span not in ev["roles"]:
                ev["roles"].append(span)
    return list(out.values())


def flat_row(rec: dict[str, Any]) -> dict[str, Any]:
    """One CSV row per incident: the first actor and recipient, counts as low/high, sources joined."""
    loc, size = rec["event_loc"], rec["size"]
    dead, injured = size["dead"] or {}, size["injured"] or {}
    return {
        "id": rec["id"], "event": rec["event"], "mode": rec["mode"], "background": rec["background"], "date": rec["date"],
        "date_precision": rec["date_precision"], "country": loc["country"], "region": loc["admin1"],
        "place": loc["name"] or loc["text"], "place_precision": loc["precision"],
        "actor": rec["actor"][0]["text"] if rec["actor"] else "",
        "recipient": rec["recipient"][0]["text"] if rec["recipient"] else "",
        "dead_low": dead.get("low"), "dead_high": dead.get("high"),
        "injured_low": injured.get("low"), "injured_high": injured.get("high"),
        "claimed_by": "; ".join(a["text"] for a in rec["claimed_by"]),
        "answers": "; ".join(x["id"] for x in rec["link"]),
        "sources": rec["source_count"], "articles": "; ".join(s["article"] for s in rec["sources"]),
        "outlets": "; ".join(sorted({s["outlet"] for s in rec["sources"] if s["outlet"]})),
        "first_report": rec["first_report"], "last_report": rec["last_report"],
        "evidence": " | ".join(ev["text"] for ev in rec["evidence"][:3]),
    }
