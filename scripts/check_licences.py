"""Fail when conflictclf's install brings a package that is GPL-family (AGPL, GPL, LGPL) only.

conflictclf is MIT: a dependency a user can only take under a copyleft licence would hand
them a licence problem they never chose (PyMuPDF, AGPL, once came in through a base
encoder's wheels). The packages checked are conflictclf's requirements, followed through
every package they require, as installed here: the default install, plus the extras given.

    python scripts/check_licences.py              # the default install
    python scripts/check_licences.py --extras all # what .ci/run installs

The licences come from pip-licenses (`--from=all`), and each of its three sources is read:
- License-Expression (SPDX, PEP 639): OR offers a choice, AND binds both, so a package is
  copyleft-only when every alternative holds a GPL-family licence;
- License-Classifier: several classifiers are read as a choice (how dual-licensed packages
  declare themselves), so copyleft-only when all of them are GPL-family;
- License-Metadata (free text, sometimes a whole LICENSE file): copyleft-only when it names
  a GPL-family licence and no permissive one (a commercial licence is no way out for users).
A package is flagged when any source says copyleft-only (sources that disagree need a person)
and reported as unknown, also a failure, when no source says anything.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import subprocess
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

UNKNOWN = "UNKNOWN"
_COPYLEFT = re.compile(r"\b(A?GPL|LGPL)|General Public License|GNU AFFERO", re.IGNORECASE)
_PERMISSIVE = re.compile(r"\b(MIT|BSD|Apache|ISC|PSF|Python Software Foundation|MPL|Mozilla Public|Unlicense|CC0|"
                         r"Zlib|0BSD|HPND)\b|Redistribution and use in source and binary forms", re.IGNORECASE)


def requirement_closure(root: str, extras: set[str]) -> list[str]:
    """Installed distributions `root` needs with `extras`, and everything they need, by name."""
    seen: set[str] = set()
    walked: set[tuple[str, frozenset[str]]] = set()  # a package is walked again for new extras
    todo = [(root, frozenset(extras))]
    missing = []
    while todo:
        name, wanted = todo.pop()
        if (canonicalize_name(name), wanted) in walked:
            continue
        walked.add((canonicalize_name(name), wanted))
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
            continue
        seen.add(canonicalize_name(dist.metadata["Name"]))
        for spec in dist.requires or ():
            req = Requirement(spec)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in (wanted or {""})):
                todo.append((req.name, frozenset(req.extras)))
    if missing:
        raise SystemExit(f"error: required but not installed, so their licences cannot be read: "
                         f"{', '.join(sorted(set(missing)))}")
    return sorted(k for k in seen if k != canonicalize_name(root))


def spdx_copyleft_only(expression: str) -> bool:
    """An SPDX expression that leaves no choice without a GPL-family licence."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expression)
    pos = 0

    def expr() -> bool:  # OR: copyleft-only if every alternative is
        nonlocal pos
        result = term()
        while pos < len(tokens) and tokens[pos].upper() == "OR":
            pos += 1
            result = term() and result
        return result

    def term() -> bool:  # AND: copyleft-only if any part is
        nonlocal pos
        result = factor()
        while pos < len(tokens) and tokens[pos].upper() == "AND":
            pos += 1
            result = factor() or result
        return result

    def factor() -> bool:
        nonlocal pos
        if tokens[pos] == "(":
            pos += 1
            inner = expr()
            pos += 1  # ")"
            return inner
        licence = tokens[pos]
        pos += 1
        if pos < len(tokens) and tokens[pos].upper() == "WITH":
            pos += 2  # an exception widens what is allowed, but the licence stays copyleft: a person decides
        return bool(_COPYLEFT.search(licence))

    return expr()


def judge(row: dict) -> tuple[str, str]:
    """('copyleft' | 'unknown' | 'ok', the licence text the verdict rests on) for one pip-licenses row."""
    verdicts = []
    expression = row.get("License-Expression", UNKNOWN)
    if expression != UNKNOWN:
        verdicts.append((spdx_copyleft_only(expression), expression))
    classifiers = row.get("License-Classifier", UNKNOWN)
    if classifiers != UNKNOWN:
        names = [c.strip() for c in classifiers.split(";") if c.strip()]
        verdicts.append((all(_COPYLEFT.search(c) for c in names), classifiers))
    text = row.get("License-Metadata", UNKNOWN)
    if text != UNKNOWN and text.strip():
        verdicts.append((bool(_COPYLEFT.search(text)) and not _PERMISSIVE.search(text), text))
    if not verdicts:
        return "unknown", UNKNOWN
    flagged = [shown for bad, shown in verdicts if bad]
    if flagged:
        return "copyleft", flagged[0]
    return "ok", verdicts[0][1]


def licences(packages: list[str]) -> list[dict]:
    cmd = [sys.executable, "-m", "piplicenses", "--from=all", "--format=json", "--with-system", "--packages", *packages]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"error: pip-licenses failed: {exc.stderr.strip().splitlines()[-1:]} "
                         "(install it with the test extra: pip install -e '.[test]')") from None
    return json.loads(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="", help="comma-separated extras of conflictclf to include (e.g. all)")
    args = parser.parse_args(argv)
    packages = requirement_closure("conflictclf", {e for e in args.extras.split(",") if e})
    rows = licences(packages)
    found = {canonicalize_name(r["Name"]) for r in rows}
    unread = sorted(set(packages) - found)
    if unread:
        print(f"error: pip-licenses did not report {', '.join(unread)}", file=sys.stderr)
        return 1
    bad = []
    for row in rows:
        verdict, shown = judge(row)
        if verdict != "ok":
            first = shown.strip().splitlines()[0][:120] if shown.strip() else shown
            bad.append(f"  {row['Name']} {row['Version']}: {verdict} ({first})")
    scope = f"conflictclf[{args.extras}]" if args.extras else "conflictclf"
    if bad:
        print(f"error: {len(bad)} of the {len(rows)} packages {scope} installs are GPL-family only or of "
              "unknown licence:", file=sys.stderr)
        print("\n".join(bad), file=sys.stderr)
        return 1
    print(f"licences: {len(rows)} packages {scope} installs, none GPL-family only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
