"""``madsim validate``: the quick oracle set passes, --list and --case work,
and a wrong oracle makes it fail (exit 1).

The quick run is madsim's own statistical check: its comparisons are
Bonferroni-split so the whole run has a false-fail rate of 1e-4 (fixed
seeds: deterministic)."""

import json

import pytest

import madsim.cli
import madsim.theory
from madsim import validate


def test_validate_quick_passes(capsys):
    assert madsim.cli.main(["validate", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "family-wise false-fail rate 0.0001" in out
    assert "FAIL" not in out.replace("0 failed", "")
    assert out.rstrip().endswith("PASS")
    for name in ("row1-replace-mle-n10-t10", "row9-fresh-m10-k10-mle", "row20-invariant-subsample"):
        assert name in out


def test_list_names_every_case(capsys):
    assert madsim.cli.main(["validate", "--list"]) == 0
    out = capsys.readouterr().out
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert names == [c.name for c in validate.cases()]
    # every Gaussian row of docs/theory/index.md has a case
    for row in (1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 20):
        assert any(n.startswith(f"row{row}-") for n in names), row
    quick = [c.name for c in validate.cases() if c.quick]
    assert 5 <= len(quick) < len(names)


def test_one_case_and_the_structured_report(tmp_path, capsys):
    path = tmp_path / "report.json"
    assert madsim.cli.main(["validate", "--case", "row1-replace-mle-n10-t10", "--json", str(path)]) == 0
    rep = json.loads(path.read_text())
    assert rep["passed"] and {r["case"] for r in rep["rows"]} == {"row1-replace-mle-n10-t10"}
    r = validate.validate(["row1-replace-mle-n10-t10", "row7-truncation-k2-n10-t10"], alpha=1e-3)
    assert r.passed and r.rows and not r.failures and not r.errors
    assert set(r.case_seconds) == {"row1-replace-mle-n10-t10", "row7-truncation-k2-n10-t10"}
    row = next(x for x in r.rows if x.quantity == "E sigma^2")
    assert row.theory == pytest.approx(0.348678, rel=1e-5) and row.t == 10 and row.se > 0
    assert abs(row.z) < r.z_crit
    assert r.to_dict()["rows"][0]["case"] == "row1-replace-mle-n10-t10"


def test_a_wrong_oracle_fails(monkeypatch, capsys):
    real = madsim.theory.expected_var
    # 5% off: about 9 standard errors of row 1's E sigma^2 (SE ~ 0.55%)
    monkeypatch.setattr(madsim.theory, "expected_var", lambda cfg, t: 1.05 * real(cfg, t))
    assert madsim.cli.main(["validate", "--case", "row1-replace-mle-n10-t10"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and out.rstrip().endswith("FAIL")
    r = validate.validate(["row1-replace-mle-n10-t10"])
    assert not r.passed and {f.quantity for f in r.failures} == {"E sigma^2"}


def test_an_oracle_error_fails_the_case(monkeypatch, capsys):
    def broken(cfg, t):
        raise NotImplementedError("no closed form")

    monkeypatch.setattr(madsim.theory, "expected_mean_sq", broken)
    assert madsim.cli.main(["validate", "--case", "row9-fresh-m10-k10-mle"]) == 1
    assert "ERROR NotImplementedError" in capsys.readouterr().out


def test_bad_arguments(capsys):
    assert madsim.cli.main(["validate", "--case", "no-such-case"]) == 2
    assert "unknown case 'no-such-case'" in capsys.readouterr().err
    assert madsim.cli.main(["validate", "--alpha", "0", "--case", "row1-replace-mle-n10-t10"]) == 2
    assert "alpha" in capsys.readouterr().err
