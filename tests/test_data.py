import pandas as pd
import pytest

from analysis.datasets.archers import simulate_archers
from analysis.datasets.files import data_dir, read_archers, write_archers


@pytest.fixture
def tmp_data(tmp_path, monkeypatch):
    monkeypatch.setenv("MIXED_BOOK_DATA", str(tmp_path))
    return tmp_path


def test_round_trip_keeps_values_and_types(tmp_data):
    exp = simulate_archers(3, [2, 3, 1], seed=5, decimals=None)
    path = write_archers(exp.data, "trip")
    assert path == tmp_data / "trip.csv"
    back = read_archers(path)
    pd.testing.assert_frame_equal(back, exp.data)


def test_data_dir_found_from_the_book_root(tmp_path, monkeypatch):
    monkeypatch.delenv("MIXED_BOOK_DATA", raising=False)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    (tmp_path / "book").mkdir()
    monkeypatch.chdir(tmp_path / "book")
    assert data_dir() == (tmp_path / "data").resolve()


def test_bad_names_and_files_are_rejected(tmp_data):
    data = simulate_archers(2, 2, seed=1).data
    with pytest.raises(ValueError, match="name"):
        write_archers(data, "x.csv")
    with pytest.raises(ValueError, match="Name"):
        write_archers(data.drop(columns="Name"), "x")
    bad = tmp_data / "bad.csv"
    bad.write_text("Distance,Bow,Name\n1.0,Oakwood,A\n")
    with pytest.raises(ValueError, match="Oakwood"):
        read_archers(bad)


def test_data_dir_does_not_create_folders_when_reading(tmp_path, monkeypatch):
    from analysis.datasets.files import data_dir

    monkeypatch.delenv("MIXED_BOOK_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    path = data_dir()
    assert path == tmp_path / "data" and not path.exists()
    assert data_dir(create=True).is_dir()
