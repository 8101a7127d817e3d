import numpy as np
import pandas as pd
import pytest

from analysis.book import format_number, format_p_value, show_table


@pytest.mark.parametrize(
    "value, digits, text",
    [
        (0.0712345, 4, "0.07123"),
        (-0.0, 4, "0"),
        (-1e-20, 3, "-1e-20"),
        (10186.0, 4, "10,186"),
        (1573.452, 4, "1,573"),
        (1.0000000000, 4, "1"),
        (165.2345, 4, "165.2"),
        (12345.678, 4, "12,346"),
        (np.int64(7), 4, "7"),
        (np.nan, 4, ""),
        (np.float64(-2.75), 2, "-2.8"),
        ("text", 4, "text"),
    ],
)
def test_format_number(value, digits, text):
    assert format_number(value, digits) == text


def test_format_number_never_prints_more_than_the_digits_asked_for_below_one():
    for x in np.random.default_rng(0).uniform(-1, 1, 200):
        digits = sum(ch.isdigit() for ch in format_number(x, 4).split("e")[0].lstrip("-0."))
        assert digits <= 4


def test_format_number_rejects_zero_digits():
    with pytest.raises(ValueError, match="digits"):
        format_number(1.5, 0)


def test_format_p_value():
    assert format_p_value(0.0) == "< 1e-10"
    assert format_p_value(3e-12) == "< 1e-10"
    assert format_p_value(0.07123) == "0.0712"
    assert format_p_value(1.0) == "1"
    with pytest.raises(ValueError, match="p-value"):
        format_p_value(1.5)


def test_show_table_formats_by_column_and_keeps_the_data():
    frame = pd.DataFrame(
        {"estimate": [1.234567, -0.0], "n": [3, 4], "p": [0.0, 0.5], "label": ["a", "b"]}
    )
    styler = show_table(frame, {"estimate": 2}, caption="A table")
    html = styler.to_html()
    assert ">1.2<" in html and ">0<" in html and "&lt; 1e-10" in html and ">3<" in html
    assert "A table" in html
    assert styler.data["estimate"].iloc[0] == 1.234567  # the data are untouched


def test_show_table_accepts_a_series_and_checks_its_arguments():
    assert ">2.5<" in show_table(pd.Series([2.5], name="x")).to_html()
    with pytest.raises(ValueError, match="not in the table"):
        show_table(pd.DataFrame({"a": [1.0]}), p_values=["b"])
    with pytest.raises(ValueError, match="DataFrame or Series"):
        show_table([1, 2])


def test_glue_all_glues_numbers_strings_and_series_by_kind(monkeypatch):
    import analysis.book as book

    glued = {}
    monkeypatch.setattr(
        book, "glue", lambda name, value, display=False: glued.update({name: value})
    )
    book.glue_all(
        {"a": np.float64(1.5), "n": 3, "s": "text", "sd": pd.Series({"group": 2.0, "resid": 0.5})}
    )
    assert glued == {"a": 1.5, "n": 3, "s": "text", "sd_group": 2.0, "sd_resid": 0.5}


@pytest.mark.parametrize("bad", [{"flag": True}, {"x": [1, 2]}, {"": 1.0}, [("a", 1.0)]])
def test_glue_all_refuses_what_prose_cannot_format(bad):
    from analysis.book import glue_all

    with pytest.raises(ValueError):
        glue_all(bad)


def test_watermark_names_python_and_the_packages():
    from analysis.book import watermark

    text = watermark(("numpy", "no-such-package-here"))
    assert "Python version" in text and f"numpy: {np.__version__}" in text
    assert "no-such-package-here" not in text
