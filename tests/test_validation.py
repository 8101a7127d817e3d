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
