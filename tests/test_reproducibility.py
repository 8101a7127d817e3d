import pandas as pd
import pytest

from analysis.book.reproducibility import (
    benchmark_table,
    book_root,
    chapter_labels,
    column_label,
    compare_glued,
    locked_versions,
    machine_info,
    name_chapters,
    package_versions,
    read_benchmarks,
)


def test_package_versions_lists_direct_dependencies_with_lock_pins(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("# comment\nNumPy==1.0\npandas==2.0\n")
    table = package_versions(lock_file=lock)
    assert {"numpy", "pandas", "statsmodels", "pytest"} <= set(table.index)
    assert table.loc["numpy", "locked"] == "1.0"
    assert pd.isna(table.loc["statsmodels", "locked"])
    assert table.loc["pytest", "extra"] == "dev" and table.loc["numpy", "extra"] == ""
    import numpy

    assert table.loc["numpy", "installed"] == numpy.__version__


def test_locked_versions_rejects_ranges(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("numpy>=1\n")
    with pytest.raises(ValueError, match="exact pin"):
        locked_versions(lock)


def test_machine_info_and_root(tmp_path, monkeypatch):
    info = machine_info()
    assert info["cpu_count"] >= 1 and info["python"].startswith("3.")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="_toc.yml"):
        book_root()
    (tmp_path / "_toc.yml").write_text("root: x\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert book_root() == tmp_path.resolve()


def test_read_benchmarks(tmp_path):
    assert read_benchmarks(tmp_path / "missing") == {}
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "x.csv", index=False)
    assert list(read_benchmarks(tmp_path)) == ["x"]
    # bench_book.py's records of glued numbers and versions are not benchmark results
    for stem in ("glued_new", "environment_new"):
        pd.DataFrame({"value": ["0.123456789"]}).to_csv(tmp_path / f"{stem}.csv", index=False)
    assert list(read_benchmarks(tmp_path)) == ["x"]


def test_rscript_with_lme4_is_none_without_r(monkeypatch):
    import analysis.book.reproducibility as rep

    monkeypatch.setattr(rep.shutil, "which", lambda name: None)
    assert rep.rscript_with_lme4.__wrapped__() is None


def test_compare_glued_reports_moved_numbers_and_unmatched_names():
    before = pd.DataFrame(
        {
            "chapter": ["a", "a", "a", "b"],
            "name": ["x", "y", "s", "z"],
            "value": ["1.0", "2.0", "'mu'", "5"],
        }
    )
    after = pd.DataFrame(
        {
            "chapter": ["a", "a", "a", "c"],
            "name": ["x", "y", "s", "w"],
            "value": ["1.0", "2.2", "'sigma_a'", "7"],
        }
    )
    table = compare_glued(before, after)
    assert list(table.index) == [("a", "x"), ("a", "y"), ("a", "s")]
    assert table.loc[("a", "x"), "same"] and table.loc[("a", "x"), "relative"] == 0
    assert table.loc[("a", "y"), "relative"] == pytest.approx(0.1)
    assert not table.loc[("a", "s"), "numeric"] and not table.loc[("a", "s"), "same"]
    assert table.attrs == {"only_before": 1, "only_after": 1}
    with pytest.raises(ValueError, match="lacks columns"):
        compare_glued(before.drop(columns="value"), after)


def test_benchmark_table_is_captioned_and_rounded():
    frame = pd.DataFrame(
        {
            "method": ["a", "b"],
            "fit_s": [5.297525349, 36.62],
            "machine": ["2 CPUs", "2 CPUs"],
            "date": ["2026-11-22", "2026-11-23"],
            "status": ["ok", "ok"],
        }
    )
    html = benchmark_table("insteval_reml", frame.assign(repeat=0)).to_html()
    assert "REML on InstEval" in html and "Machine: 2 CPUs" in html
    assert "5.298" in html and "5.2975" not in html
    assert ">Machine<" not in html  # constant: moved to the caption
    assert ">Date<" in html  # varies: stays a column, its header in words
    assert ">Fit (s)<" in html and "fit_s" not in html  # no snake_case header
    assert ">Status<" not in html  # "ok" throughout says nothing
    assert "bench/results/other.csv" in benchmark_table("other", frame).to_html()


def test_benchmark_table_summarises_repeats_and_replications():
    reml = pd.DataFrame(
        {
            "method": ["x", "y"] * 3,
            "repeat": [0, 0, 1, 1, 2, 2],
            "status": ["ok"] * 6,
            "fit_s": [1.0, 10, 2, 20, 9, 30],
            "load_before": [1.3] * 6,
        }
    )
    table = benchmark_table("insteval_reml", reml).data
    assert list(table["Fit (s)"]) == [2.0, 20.0]  # the median of the repeats
    assert len(table) == 2 and "Load before" not in table
    exits = reml.drop(columns="fit_s").assign(command_s=[1.3, 1.5, 1.2, 1.4, 1.9, 1.6])
    table = benchmark_table("cli_exit", exits).data  # the command line's exit, the same way
    assert list(table["Whole command (s)"]) == [1.3, 1.5]
    moments = pd.DataFrame(
        {
            "replication": [0, 0, 1, 1],
            "group": ["u", "i", "u", "i"],
            "reml": [0.4, 0.8, 0.6, 0.8],
            "moments": [0.5, 0.7, 0.5, 0.9],
            "truth": [0.5, 0.8, 0.5, 0.8],
        }
    )
    styler = benchmark_table("large_moments", moments)
    assert len(styler.data) == 2 and "2 replications" in styler.caption
    assert styler.data.set_index("Factor").loc["u", "REML: mean"] == pytest.approx(0.5)


def test_chapters_are_named_by_number_and_title(tmp_path):
    (tmp_path / "_toc.yml").write_text(
        "root: intro\nparts:\n  - numbered: true\n    chapters:\n      - file: book/01_a\n"
        "      - file: book/02_b\n  - chapters:\n      - file: book/app\n"
    )
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "01_a.md").write_text("# First things\n")
    nb = {"cells": [{"cell_type": "markdown", "source": ["# Second ", "things\n"]}]}
    (tmp_path / "book" / "02_b.ipynb").write_text(__import__("json").dumps(nb))
    (tmp_path / "book" / "app.md").write_text("# Appendix\n")
    labels = chapter_labels(tmp_path)
    assert labels == {
        "01_a": "Chapter 1: First things",
        "02_b": "Chapter 2: Second things",
        "app": "Appendix",
    }
    assert name_chapters("chapter: 02_b", labels) == "Chapter 2: Second things"
    assert name_chapters("rebuild after editing 01_a.ipynb", labels) == (
        "rebuild after editing chapter 1"
    )
    assert name_chapters("09_unknown", labels) == "09_unknown"
    frame = pd.DataFrame({"what": ["chapter: 01_a", "chapter: 02_b"], "seconds": [1.0, 2.0]})
    html = benchmark_table(
        "insteval_nuts_seeds", frame, chapters={"09_insteval_bayes": "Chapter 13: X"}
    ).to_html()
    assert "The NUTS run of chapter 13" in html


def test_the_book_names_its_chapters_as_the_table_of_contents_numbers_them():
    labels = chapter_labels(book_root_of_repository())
    assert labels["01_jaimes_first_experiment"].startswith("Chapter 1: ")
    numbered = [v for v in labels.values() if v.startswith("Chapter ")]
    assert [int(v.split()[1].rstrip(":")) for v in numbered] == list(range(1, len(numbered) + 1))


def book_root_of_repository():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]


def test_column_labels_are_words():
    assert column_label("ess_hyper_per_s") == "ESS per second (hyperparameters)"
    assert column_label("warmup_seconds") == "Warmup (s)"
    assert column_label("peak_rss_mb") == "Peak rss (MB)"
    assert column_label("n_things") == "N things"
