"""The reproduction gallery (madsim.repro, madsim repro): every paper runs at
its quick size and passes, the command line lists, runs and judges, and a
wrong reference number fails."""

from __future__ import annotations

import json

import matplotlib
import pytest

from madsim import cli, repro
from madsim.repro import Result, Row, compare, z_crit

matplotlib.use("Agg")

KEYS = repro.keys()


@pytest.fixture(scope="module")
def quick():
    """Every paper at the quick size, run once for the module (a few seconds in all)."""
    return {k: repro.run(k, threads=2) for k in KEYS}


def test_at_least_the_eight_papers_of_the_issue():
    assert {
        "shumailov2024",
        "alemohammad2024",
        "bertrand2024",
        "kazdan2024",
        "gerstgrasser2024",
        "he2025",
        "suresh2025",
        "deydonoho2024",
    } <= set(KEYS)
    for p in repro.papers():
        assert p.authors and p.title and p.claim and p.settings and p.left_out
        assert all(s.source for s in p.settings)
        assert set(p.sizes) == {"quick", "full"}


@pytest.mark.parametrize("key", KEYS)
def test_quick_size_passes_every_comparison(quick, key):
    res = quick[key]
    total = sum(len(r.rows) for r in quick.values())
    assert res.key == key and res.size == "quick" and res.rows
    assert not res.failures(total), res.table(total)
    assert res.wall_s < 10


@pytest.mark.parametrize("key", KEYS)
def test_figure_draws(quick, key):
    import matplotlib.pyplot as plt

    ax = repro.get(key).figure(quick[key])
    assert ax is not None
    plt.close("all")


def test_a_wrong_paper_number_fails():
    values = [1.0, 1.1, 0.9, 1.05, 0.95] * 200
    good = compare("E x", values, paper=1.0)
    bad = compare("E x", values, paper=1.1)  # a deliberately wrong "paper number"
    res = Result("test", "quick", {}, [good, bad])
    assert res.failures() == [bad] and not res.passed
    assert abs(good.z) < 1e-9 and bad.z < -z_crit(1e-4, 2)
    assert "FAIL" in res.table()


def test_z_prefers_theory_and_errors_are_clear():
    assert Row("q", 1, 1.0, 0.5, paper=9.0, theory=1.0).z == 0.0
    with pytest.raises(ValueError, match="paper's number, the closed form"):
        compare("q", [1, 2])
    with pytest.raises(ValueError, match="finite"):
        compare("q", [1.0, float("nan")], theory=1.0)
    with pytest.raises(ValueError, match="no paper 'nope'"):
        repro.get("nope")
    with pytest.raises(ValueError, match="size must be one of"):
        repro.run("he2025", size="huge")
    with pytest.raises(ValueError, match="threads"):
        repro.run("he2025", threads=0)
    with pytest.raises(ValueError, match="alpha"):
        z_crit(0.0, 3)


def test_cli_list(capsys):
    assert cli.main(["repro", "--list"]) == 0
    out = capsys.readouterr().out
    for p in repro.papers():
        assert p.key in out and str(p.year) in out and p.title in out


def test_cli_runs_one_and_writes_its_files(tmp_path, capsys):
    assert cli.main(["repro", "gerstgrasser2024", "--out", str(tmp_path), "--threads", "2"]) == 0
    out = capsys.readouterr().out
    assert "replace: E test error" in out and "0 failed" in out
    doc = json.loads((tmp_path / "gerstgrasser2024.json").read_text())
    assert doc["passed"] and doc["paper"]["key"] == "gerstgrasser2024" and doc["rows"]
    assert (tmp_path / "gerstgrasser2024.png").stat().st_size > 1000
    assert not list(tmp_path.glob(".*"))  # atomic writes leave no temporary files


def test_cli_all_exit_codes(tmp_path, monkeypatch, capsys):
    # 'all' over two cheap papers: passes (0); with a paper whose number is wrong: fails (1)
    monkeypatch.setattr(repro, "keys", lambda: ["gerstgrasser2024", "deydonoho2024"])
    assert cli.main(["repro", "all", "--quick", "--out", str(tmp_path)]) == 0
    assert "2 paper(s)" in capsys.readouterr().out
    paper = repro.get("deydonoho2024")
    real = paper.run_fn

    def wrong(size, threads):
        res = real(size, threads)
        r = res.rows[0]
        res.rows[0] = Row(r.quantity, r.t, r.mc, r.se, paper=r.mc + 10 * r.se + 1.0, theory=None)
        return res

    object.__setattr__(paper, "run_fn", wrong)  # Paper is frozen: restored below
    try:
        assert cli.main(["repro", "all", "--out", str(tmp_path)]) == 1
        assert "FAIL" in capsys.readouterr().out
    finally:
        object.__setattr__(paper, "run_fn", real)
    assert json.loads((tmp_path / "deydonoho2024.json").read_text())["passed"] is False


def test_cli_errors(capsys):
    assert cli.main(["repro", "nope"]) == 2
    assert "no paper 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["repro", "he2025", "--full", "--quick"])


def test_docs_pages_and_full_run_tables_cover_every_paper():
    """docs/repro has a page per registered paper (docs/make_repro_pages.py
    writes them), the index links each, and the committed full run passed."""
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    index = (docs / "repro" / "index.md").read_text()
    for p in repro.papers():
        page = docs / "repro" / f"{p.key}.md"
        assert page.exists(), f"no page for {p.key}: run python docs/make_repro_pages.py"
        assert p.title in page.read_text() and f"<{p.key}>" in index
        full = json.loads((docs / "figures" / "repro" / f"{p.key}.json").read_text())
        assert (
            full["size"] == "full"
            and full["passed"]
            and len(full["rows"]) == len([r for r in full["rows"] if abs(r["z"]) < full["z_crit"]])
        )
        assert (docs / "figures" / "repro" / f"{p.key}.png").exists()
