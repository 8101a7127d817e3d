import pandas as pd
import pytest

from analysis.book.reproducibility import (
    benchmark_table,
    book_root,
    compare_glued,
    locked_versions,
    machine_info,
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
    before = pd.DataFrame({"chapter": ["a", "a", "a", "b"], "name": ["x", "y", "s", "z"],
                           "value": ["1.0", "2.0", "'mu'", "5"]})
    after = pd.DataFrame({"chapter": ["a", "a", "a", "c"], "name": ["x", "y", "s", "w"],
                          "value": ["1.0", "2.2", "'sigma_a'", "7"]})
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
        {"method": ["a", "b"], "fit_s": [5.297525349, 36.62], "machine": ["2 CPUs", "2 CPUs"],
         "date": ["2026-11-22", "2026-11-23"]}
    )
    html = benchmark_table("insteval_reml", frame).to_html()
    assert "REML on InstEval" in html and "machine 2 CPUs" in html
    assert "5.298" in html and "5.2975" not in html
    assert ">machine<" not in html  # constant: moved to the caption
    assert ">date<" in html  # varies: stays a column
    assert "bench/results/other.csv" in benchmark_table("other", frame).to_html()
