"""scripts/check_licences.py: which packages it checks, and how it reads their licences."""

import importlib.util
from pathlib import Path

import pytest

_path = Path(__file__).resolve().parent.parent / "scripts" / "check_licences.py"
_spec = importlib.util.spec_from_file_location("check_licences", _path)
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

U = check.UNKNOWN


def row(expression=U, classifier=U, metadata=U):
    return {"Name": "p", "Version": "1", "License-Expression": expression, "License-Classifier": classifier,
            "License-Metadata": metadata}


@pytest.mark.parametrize("record, verdict", [
    # PyMuPDF as installed by the old default: AGPL, or a licence users must buy
    (row(metadata="Dual Licensed - GNU AFFERO GPL 3.0 or Artifex Commercial License"), "copyleft"),
    (row(classifier="GNU General Public License v2 or later (GPLv2+)"), "copyleft"),
    (row(expression="LGPL-2.1-or-later"), "copyleft"),
    (row(expression="MIT AND LGPL-2.1-only"), "copyleft"),  # bundles an LGPL part: no way around it
    (row(expression="(MIT OR GPL-3.0-only) AND LGPL-3.0-only"), "copyleft"),
    (row(expression="GPL-3.0-or-later WITH GCC-exception-3.1"), "copyleft"),  # a person decides
    (row(expression="MIT OR GPL-3.0-only"), "ok"),  # a choice: take MIT
    (row(expression="(GPL-2.0-only OR BSD-3-Clause) AND MIT"), "ok"),
    (row(expression="Apache-2.0 AND Apache-2.0 WITH LLVM-exception AND BSD-3-Clause AND MIT"), "ok"),  # torch
    (row(classifier="GNU General Public License v2 (GPLv2); MIT License"), "ok"),  # dual, by classifiers
    # scipy: a BSD licence file whose notices quote the GPL of bundled runtime libraries
    (row(classifier="BSD License", metadata="Copyright (c) SciPy Developers.\nRedistribution and use in source "
         "and binary forms...\nName: libquadmath\nLicense: LGPL-2.1-or-later"), "ok"),
    (row(classifier="MIT License", metadata="GPL-3.0"), "copyleft"),  # sources disagree: flagged
    (row(), "unknown"),
    (row(metadata="   "), "unknown"),
])
def test_licences_are_judged_in_the_spirit_of_no_copyleft_only_package(record, verdict):
    assert check.judge(record)[0] == verdict


def _dist(site, name, requires=()):
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0", *(f"Requires-Dist: {r}" for r in requires)]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


def test_the_closure_follows_requirements_their_extras_and_markers(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _dist(site, "rootpkg", ["alpha", "beta[fast]", "gamma; python_version < '3'", "delta; extra == 'opt'"])
    _dist(site, "alpha", ["beta"])
    _dist(site, "beta", ["epsilon; extra == 'fast'"])
    for name in ("gamma", "delta", "epsilon"):
        _dist(site, name)
    monkeypatch.syspath_prepend(str(site))
    assert check.requirement_closure("rootpkg", set()) == ["alpha", "beta", "epsilon"]
    assert check.requirement_closure("rootpkg", {"opt"}) == ["alpha", "beta", "delta", "epsilon"]


def test_a_required_package_that_is_not_installed_fails_the_check(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _dist(site, "rootpkg2", ["no-such-package-xyz"])
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(SystemExit, match="no-such-package-xyz"):
        check.requirement_closure("rootpkg2", set())


def test_offenders_are_printed_and_fail_the_run(monkeypatch, capsys):
    monkeypatch.setattr(check, "requirement_closure", lambda root, extras: ["good", "pymupdf"])
    monkeypatch.setattr(check, "licences", lambda names: [
        {**row(expression="MIT"), "Name": "good"},
        {**row(metadata="Dual Licensed - GNU AFFERO GPL 3.0 or Artifex Commercial License"), "Name": "PyMuPDF",
         "Version": "2.0"}])
    assert check.main([]) == 1
    err = capsys.readouterr().err
    assert "PyMuPDF 2.0: copyleft (Dual Licensed - GNU AFFERO GPL 3.0" in err and "good" not in err
