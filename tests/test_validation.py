import re

import numpy as np
import pandas as pd
import pytest

from analysis.validation import (
    check_finite,
    check_nonnegative,
    check_nonnegative_int,
    check_positive_int,
    model_columns,
    numeric_response,
    require_columns,
)


def test_integer_checks():
    assert check_positive_int("n", np.int64(3)) == 3
    assert check_nonnegative_int("n", 0) == 0
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="^n "):
            check_positive_int("n", bad)
    with pytest.raises(ValueError, match="k must not be negative"):
        check_nonnegative_int("k", -1)


def test_real_checks():
    assert check_finite("x", 1) == 1.0
    assert check_nonnegative("sd", 0.0) == 0.0
    for bad in (float("nan"), float("inf"), "1", None, True):
        with pytest.raises(ValueError, match="x must be a finite number"):
            check_finite("x", bad)
    with pytest.raises(ValueError, match="sd must not be negative"):
        check_nonnegative("sd", -0.5)


def test_require_columns_and_numeric_response():
    frame = pd.DataFrame(
        {"y": [1, 2], "flag": [True, False], "txt": ["a", "b"], "gap": [1.0, np.nan]}
    )
    require_columns(frame, ["y"])
    with pytest.raises(ValueError, match=r"missing column\(s\) \['z'\]"):
        require_columns(frame, ["y", "z"])
    with pytest.raises(ValueError, match="DataFrame"):
        require_columns([1, 2], ["y"])
    np.testing.assert_array_equal(numeric_response(frame, "y"), [1.0, 2.0])
    for column, message in [("flag", "numeric"), ("txt", "numeric"), ("gap", "missing")]:
        with pytest.raises(ValueError, match=message):
            numeric_response(frame, column)


def test_model_columns():
    frame = pd.DataFrame({"y": [1.0], "x": [0], "g": ["a"], "h": ["b"]})
    assert model_columns(frame, "y", ["x"], ["g", "h"], min_groups=2) == (["x"], ["g", "h"])
    cases = [
        (dict(fixed="x"), "list of column names"),
        (dict(fixed=["x", "x"]), "repeated"),
        (dict(groups=["g", "y"]), "more than one role"),
        (dict(groups=[]), "at least one"),
        (dict(groups=["q"]), "missing"),
    ]
    for kwargs, message in cases:
        args = {"fixed": ["x"], "groups": ["g"]} | kwargs
        with pytest.raises(ValueError, match=message):
            model_columns(frame, "y", **args)
    with pytest.raises(ValueError, match="empty"):
        model_columns(frame.iloc[:0], "y", ["x"], ["g"])


@pytest.mark.parametrize("bad", ["1", 1.5, -1, True, None])
def test_check_seed_refuses_what_is_not_a_seed(bad):
    from analysis.validation import check_seed

    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        check_seed(bad)


def test_check_seed_accepts_numpy_integers():
    import numpy as np

    from analysis.validation import check_seed

    assert check_seed(np.int64(7)) == 7 and isinstance(check_seed(np.int64(7)), int)


@pytest.mark.parametrize("bad", ["1", 1.5, -1, True, None])
def test_every_simulator_and_split_refuses_a_bad_seed(bad):
    from analysis.datasets.archers import archer_names, simulate_archers, unbalanced_shot_counts
    from analysis.datasets.insteval import simulate_crossed, split_insteval
    from analysis.datasets.online import simulate_online

    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0, 5.0]})
    calls = [
        lambda: archer_names(3, seed=bad),
        lambda: simulate_archers(3, 2, seed=bad),
        lambda: split_insteval(frame, seed=bad),
        lambda: simulate_crossed(seed=bad),
        lambda: unbalanced_shot_counts(seed=bad),
        lambda: simulate_online(50, seed=bad),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="seed"):
            call()


def test_every_fitter_refuses_a_response_whose_squares_would_overflow():
    from analysis.datasets.insteval import simulate_crossed
    from analysis.models.crossed import fit_crossed
    from analysis.models.large import moment_estimates
    from analysis.models.lmer import fit_lmer
    from analysis.models.mixed import fit_random_intercept
    from analysis.validation import LARGEST_RESPONSE

    data = simulate_crossed(seed=1, n_students=30, n_instructors=8, per_student=3)
    huge = data.assign(y=data["y"] * 1e298, service=data["service"].astype(int))
    calls = [
        lambda: fit_crossed(huge, "y", [], ["s"]),
        lambda: moment_estimates(huge, "y", [], ["s", "d"]),
        lambda: fit_lmer("y ~ 1 + (1 | s)", huge.astype({"s": str})),
        lambda: fit_random_intercept(huge, "y", [], "s"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="rescale it"):
            call()
    # numeric_response accepts the limit itself and refuses a predictor only if not finite
    frame = pd.DataFrame({"y": [LARGEST_RESPONSE, -1.0], "x": [1e200, 0.0]})
    assert numeric_response(frame, "y").max() == LARGEST_RESPONSE
    assert numeric_response(frame, "x", role="predictor").max() == 1e200


def test_check_positive_int_bounds():
    from analysis.validation import check_positive_int

    assert check_positive_int("k", 2, minimum=2) == 2
    assert check_positive_int("nagq", np.int64(25), maximum=25) == 25
    with pytest.raises(ValueError, match="k must be at least 2, got 1"):
        check_positive_int("k", 1, minimum=2)
    with pytest.raises(ValueError, match="nagq must be at most 25, got 26"):
        check_positive_int("nagq", 26, maximum=25)


def test_check_positive():
    from analysis.validation import check_positive

    assert check_positive("sd", np.float64(0.5)) == 0.5
    for bad in (0, -1.0, 0.0):
        with pytest.raises(ValueError, match="sd must be positive"):
            check_positive("sd", bad)
    for bad in (float("inf"), float("nan"), "1", True, None):
        with pytest.raises(ValueError, match="sd must be a finite number"):
            check_positive("sd", bad)


@pytest.mark.parametrize(
    ("closed", "inside", "outside", "shown"),
    [
        ("neither", [0.5], [0.0, 1.0], "(0, 1)"),
        ("left", [0.0, 0.5], [1.0, -0.1], "[0, 1)"),
        ("right", [1.0], [0.0], "(0, 1]"),
        ("both", [0.0, 1.0], [1.5, -1e-9], "[0, 1]"),
    ],
)
def test_check_interval(closed, inside, outside, shown):
    from analysis.validation import check_interval

    for value in inside:
        assert check_interval("p", value, 0.0, 1.0, closed=closed) == value
    for value in outside:
        with pytest.raises(ValueError, match=re.escape(f"p must lie in {shown}, got {value!r}")):
            check_interval("p", value, 0.0, 1.0, closed=closed)
    with pytest.raises(ValueError, match="p must be a finite number"):
        check_interval("p", float("nan"), 0.0, 1.0, closed=closed)


def test_check_bool():
    from analysis.validation import check_bool

    assert check_bool("reml", np.bool_(False)) is False
    assert check_bool("reml", True) is True
    for bad in (0, 1, "False", None, np.array([True])):
        with pytest.raises(ValueError, match="reml must be True or False"):
            check_bool("reml", bad)


def test_check_choice():
    from analysis.validation import check_choice

    assert check_choice("engine", "pymc", ("nutpie", "pymc")) == "pymc"
    for bad in ("PyMC", "", None, 1, ["pymc"]):
        message = f"unknown engine {bad!r}: engine must be one of 'nutpie', 'pymc'"
        with pytest.raises(ValueError, match=re.escape(message) + "$"):
            check_choice("engine", bad, ("nutpie", "pymc"))


def test_finite_array():
    from analysis.validation import finite_array

    out = finite_array("x", pd.Series([1, 2]))
    assert out.dtype == float and out.tolist() == [1.0, 2.0]
    assert finite_array("m", [[1.0]], ndim=None).shape == (1, 1)
    assert finite_array("m", [], ndim=None, min_size=0).size == 0
    cases = [
        (([[1.0, 2.0]],), {}, "x must be a 1-D sequence of numbers, got 2-D"),
        (([],), {}, r"x must hold at least 1 value\(s\), got 0"),
        (([1.0],), {"min_size": 2}, r"x must hold at least 2 value\(s\), got 1"),
        (([1.0, np.nan],), {}, "x has missing or infinite values"),
        (([1.0, np.inf],), {}, "x has missing or infinite values"),
        ((["a"],), {}, "x must hold numbers"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            finite_array("x", *args, **kwargs)


def test_require_rows():
    from analysis.validation import require_rows

    frame = pd.DataFrame({"y": [1.0, 2.0]})
    require_rows(frame)
    require_rows(frame, minimum=2)
    with pytest.raises(ValueError, match="train is empty"):
        require_rows(frame.iloc[:0], "train")
    with pytest.raises(ValueError, match="data has 2 rows, fewer than the 3 needed"):
        require_rows(frame, minimum=3)
    with pytest.raises(ValueError, match="data must be a pandas DataFrame, got list"):
        require_rows([1.0, 2.0])
