"""The incidents view: one self-contained HTML page, one row per incident, its sources and
evidence on expand, and a timeline.

Rendered by Jinja2 with autoescape on (`templates/incidents.html.j2`), so text from the
articles is escaped wherever it lands. This module works out what the page shows: the
timeline's geometry and each evidence sentence cut into plain and role-marked pieces.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from functools import cache
from typing import Any

import jinja2

TIMELINE_WIDTH, LANE_HEIGHT, MARGIN = 1000, 46, 40
LANES = ("ASSAULT", "THREATEN")


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("conflictclf.cli", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template("incidents.html.j2")


def build_incidents_page(records: Sequence[dict[str, Any]], title: str = "conflictclf incidents",
                         source: str = "", articles: int | None = None) -> str:
    """`articles`: how many were read (default: those the incidents cite; an article with
    no labelled sentence cites none)."""
    rows = [_row(k, r) for k, r in enumerate(records)]
    return _template().render(
        title=title, source=source, made=time.strftime("%Y-%m-%d %H:%M"), rows=rows,
        n_articles=articles if articles is not None else len({s["article"] for r in records for s in r["sources"]}),
        n_multi=sum(r["source_count"] > 1 for r in records), timeline=_timeline(records))


def _row(k: int, r: dict[str, Any]) -> dict[str, Any]:
    loc = r["event_loc"]
    place = loc["name"] or loc["text"] or ""
    if loc["country"] and loc["precision"] != "country":
        place += f" ({', '.join(x for x in (loc['admin1'], loc['country']) if x)})"
    return {
        "k": k, "id": r["id"], "event": r["event"].lower(), "mode": r["mode"], "background": r["background"], "date": r["date"] or "unknown",
        "precision": r["date_precision"] or "", "other_dates": ", ".join(r["date_other"]), "place": place,
        "actor": ", ".join(a["text"] for a in r["actor"][:2]), "recipient": ", ".join(a["text"] for a in r["recipient"][:2]),
        "dead": _size(r["size"]["dead"]), "injured": _size(r["size"]["injured"]),
        "claimed": ", ".join(a["text"] for a in r["claimed_by"]), "links": [x["id"] for x in r["link"]],
        "sources": r["sources"], "n_sources": r["source_count"], "first": r["first_report"] or "",
        "last": r["last_report"] or "", "size_reports": _size_reports(r["size"]),
        "evidence": [_evidence(e) for e in r["evidence"]],
    }


def _size(s: dict[str, Any] | None) -> str:
    if not s:
        return ""
    low, high = s["low"], s["high"]
    if low is None:
        return "unknown"
    if high is None:
        return f"{low}+"
    return str(low) if low == high else f"{low}-{high}"


def _size_reports(size: dict[str, Any]) -> list[str]:
    return [f"{kind}: {g['text']} ({g['article']})" for kind, key in (("dead", "dead"), ("injured", "injured"))
            for g in (size[key] or {}).get("reports", [])]


def _evidence(e: dict[str, Any]) -> dict[str, Any]:
    """The sentence in pieces; a piece inside a role span carries the role's name."""
    text, cuts = e["text"], {0, len(e["text"])}
    spans = [s for s in e["roles"] if 0 <= s["start"] < s["end"] <= len(text)]
    for s in spans:
        cuts |= {s["start"], s["end"]}
    edges = sorted(cuts)
    pieces = []
    for a, b in zip(edges, edges[1:]):
        roles = sorted({s["role"] for s in spans if s["start"] <= a and b <= s["end"]})
        pieces.append({"text": text[a:b], "roles": ", ".join(roles)})
    return {"article": e["article"], "outlet": e["outlet"] or "", "as": e["as"], "labels": ", ".join(e["labels"]),
            "pieces": pieces}


def _timeline(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One dot per incident dated to the day (history recalled as a year or month would
    stretch the axis over years), a lane per kind, sized by its number of sources."""
    dated = []
    for k, r in enumerate(records):
        if r["date_precision"] not in ("day", "reported") or r["background"]:
            continue
        try:
            dated.append((dt.date.fromisoformat(r["date"]), k, r))
        except (TypeError, ValueError):
            continue
    if not dated:
        return {"dots": [], "ticks": [], "width": TIMELINE_WIDTH, "height": 0}
    first, last = min(d for d, _, _ in dated), max(d for d, _, _ in dated)
    span = max((last - first).days, 1)
    inner = TIMELINE_WIDTH - 2 * MARGIN

    def x(day: dt.date) -> float:
        return round(MARGIN + inner * (day - first).days / span, 1)

    dots = [{"k": k, "x": x(d), "y": LANE_HEIGHT * (LANES.index(r["event"]) if r["event"] in LANES else 0) + LANE_HEIGHT / 2,
             "r": min(4 + 2 * r["source_count"], 14), "cls": r["event"].lower(),
             "tip": f"{r['date']}: {r['event'].lower()} {r['event_loc']['name'] or r['event_loc']['text'] or ''}, "
                    f"{r['source_count']} source(s)"} for d, k, r in dated]
    step = max(1, span // 8)
    ticks = [{"x": x(first + dt.timedelta(days=i)), "label": (first + dt.timedelta(days=i)).isoformat()}
             for i in range(0, span + 1, step)]
    return {"dots": dots, "ticks": ticks, "width": TIMELINE_WIDTH, "height": LANE_HEIGHT * len(LANES) + 24,
            "lanes": [{"y": LANE_HEIGHT * i + LANE_HEIGHT / 2, "name": n.lower()} for i, n in enumerate(LANES)]}
