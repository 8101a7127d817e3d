"""The lme4 formula front end: parsing, model matrices as R builds them, hostile formulas."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.book.lme4 import lme4_reference, read_reference
from analysis.models.formula import (
    MAX_DEPTH,
    FormulaError,
    build_design,
    deparse,
    parse_formula,
)

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "data" / "reference" / "glmer_lme4.json"


@pytest.fixture
def small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "y": [1.0, 2, 3, 4, 5, 6],
            "x": [1.0, 2, 3, 4, 5, 7],
            "f": list("aabbcc"),
            "g": list("pqpqpq"),
            "h": list("uuvvww"),
        }
    )


# Column names of R's model.matrix for the same formulas (R 4.2).
R_COLUMNS = {
    "y ~ x*f + I(x^2) + log(x, 2) + (1 | g)": [
        "(Intercept)",
        "x",
        "fb",
        "fc",
        "I(x^2)",
        "log(x, 2)",
        "x:fb",
        "x:fc",
    ],
    "y ~ 0 + f + x:f + (1 | g)": ["fa", "fb", "fc", "fa:x", "fb:x", "fc:x"],
    "y ~ f/x + (1 | g)": ["(Intercept)", "fb", "fc", "fa:x", "fb:x", "fc:x"],
    "y ~ f:x + x + (1 | g)": ["(Intercept)", "x", "fb:x", "fc:x"],
    "y ~ x - 1 + (1 | g)": ["x"],
    "y ~ I(x - 40) + scale(x) + (1 | g)": ["(Intercept)", "I(x - 40)", "scale(x)"],
}


@pytest.mark.parametrize("formula", list(R_COLUMNS))
def test_fixed_columns_are_named_and_ordered_as_r(small, formula):
    assert build_design(formula, small).fixed_names == R_COLUMNS[formula]


def test_every_reference_formula_gives_lme4s_fixed_names():
    for key in read_reference(REFERENCE)["fits"]:
        ref = lme4_reference(key, REFERENCE)
        data = pd.read_csv(ROOT / "data" / ref.data)
        assert build_design(ref.formula, data).fixed_names == ref.fixed["term"].tolist(), key


def test_values_of_transformations_and_arithmetic(small):
    des = build_design("log(y) ~ I(x^2) + I((x - 1)/2) + scale(x) + exp(x) + (1 | g)", small)
    x = small["x"].to_numpy()
    np.testing.assert_allclose(des.y, np.log(small["y"]))
    np.testing.assert_allclose(des.X[:, 1], x**2)
    np.testing.assert_allclose(des.X[:, 2], (x - 1) / 2)
    np.testing.assert_allclose(des.X[:, 3], (x - x.mean()) / x.std(ddof=1))
    np.testing.assert_allclose(des.X[:, 4], np.exp(x))
    assert des.response_name == "log(y)"


def test_cbind_response_gives_successes_and_trials(small):
    des = build_design("cbind(x, 10 - x) ~ 1 + (1 | g)", small)
    np.testing.assert_allclose(des.y, small["x"])
    np.testing.assert_allclose(des.trials, 10.0)
    assert des.formula.has_trials


def test_factor_of_numbers_and_treatment_contrasts():
    data = pd.DataFrame({"y": [0.0, 1, 0, 1, 1, 0], "p": [3, 1, 2, 3, 1, 2], "g": list("ababab")})
    des = build_design("y ~ factor(p) + (1 | g)", data)
    assert des.fixed_names == ["(Intercept)", "factor(p)2", "factor(p)3"]
    np.testing.assert_allclose(des.X[:, 1], (data["p"] == 2).astype(float))


def test_categorical_keeps_its_category_order(small):
    small["f"] = pd.Categorical(small["f"], categories=["c", "a", "b"])
    assert build_design("y ~ f + (1 | g)", small).fixed_names == ["(Intercept)", "fa", "fb"]


def test_random_terms_slopes_uncorrelated_crossed_nested(small):
    des = build_design("y ~ x + (1 + x | g) + (1 | h)", small)
    assert [(t.group, t.names) for t in des.random] == [
        ("h", ["(Intercept)"]),  # more levels first, as lme4
        ("g", ["(Intercept)", "x"]),
    ]
    split = build_design("y ~ x + (1 + x || g)", small)
    assert [(t.group, t.names, t.correlated) for t in split.random] == [
        ("g", ["(Intercept)"], True),
        ("g", ["x"], False),
    ]
    nested = build_design("y ~ 1 + (1 | g/h)", small)
    assert [t.group for t in nested.random] == ["h:g", "g"]
    assert nested.random[0].levels[0] == "u:p"  # lme4 labels the inner level first
    inter = build_design("y ~ 1 + (1 | g:h)", small)
    assert inter.random[0].group == "g:h" and inter.random[0].levels[0] == "p:u"


def test_interaction_powers_and_subtraction():
    f = parse_formula("y ~ (a + b + c)^2 - a:c + (1 | g)")
    terms = [[deparse(n) for n in t] for t in f.fixed]
    assert terms == [["a"], ["b"], ["c"], ["a", "b"], ["b", "c"]]
    assert not parse_formula("y ~ 0 + a + (1 | g)").intercept
    assert parse_formula("y ~ a + (1 | g)").intercept


def test_frame_is_a_plain_formula_mixedlm_can_parse(small):
    des = build_design("cbind(x, 10 - x) ~ f + I(x - 2) + (1 + x | g)", small)
    frame, formula, names = des.frame()
    assert formula == "y ~ 0 + x0 + x1 + x2 + x3 + (0 + z0_0 + z0_1 | g0)"
    np.testing.assert_allclose(frame["y"], small["x"] / 10)
    assert names["x3"] == "I(x - 2)" and names["g0"] == "g"


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ (x + (1 | g)", "unclosed parenthesis opened at character 5"),
        ("y ~ x) + (1 | g)", "unmatched closing parenthesis at character 6"),
        ("y ~ x +", "expected a term"),
        ("~ x", "no response"),
        ("y x", "no '~'"),
        ("y ~ x ~ z", "more than one '~'"),
        ("y ~ x | g", "must stand in its own parentheses"),
        ("y ~ x $ z", "unexpected character '$' at character 7"),
        ("y ~ 3 + (1 | g)", "is not a term"),
        ("cbind(a) ~ x", "takes two arguments"),
        ("y ~ x + (1 | g + h)", "several grouping factors are several terms"),
        ("y ~ x + (1 | log(g))", "column names joined"),
        ("", "empty"),
        ("y ~ `x", "unclosed backquote"),
    ],
)
def test_malformed_formulas_say_what_and_where(formula, message):
    with pytest.raises(FormulaError, match=message.replace("(", r"\(").replace("$", r"\$")):
        parse_formula(formula)


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ " + "(" * 4000 + "x" + ")" * 4000,
        "y ~ " + "x + " * 2000,
        "y ~ (x" + " + x" * 2000,
        "y ~ " + "a" * 8000 + "(",
        "y ~ x + " + "log(" * 2000 + "x" + ")" * 2000,
        "y ~ " + "(x + " * 1000 + "(1 | g",
    ],
)
def test_hostile_formulas_of_kilobytes_fail_fast(formula):
    start = time.perf_counter()
    with pytest.raises(FormulaError):
        parse_formula(formula)
    assert time.perf_counter() - start < 0.25


def test_deep_nesting_is_refused_before_recursion():
    with pytest.raises(FormulaError, match=f"more than {MAX_DEPTH}"):
        parse_formula("y ~ " + "(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1))


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ nope + (1 | g)", "not in the data: 'nope'"),
        ("y ~ eval(x) + (1 | g)", "unknown function 'eval'"),
        ("y ~ __import__(x) + (1 | g)", "unknown function"),
        ("y ~ I(f + 1) + (1 | g)", "not numeric"),
        ("y ~ log(x - 3) + (1 | g)", "not finite"),
        ("f ~ x + (1 | g)", "not numeric"),
        ("y ~ x + (1 | k)", "has 1 level"),
        ("y ~ 0 + (1 | g)", "no fixed effects"),
    ],
)
def test_bad_formulas_for_the_data(small, formula, message):
    small["k"] = "one"
    with pytest.raises(FormulaError, match=message):
        build_design(formula, small)


def test_missing_values_are_refused(small):
    small.loc[2, "x"] = np.nan
    with pytest.raises(FormulaError, match="missing values"):
        build_design("y ~ x + (1 | g)", small)


def test_formula_error_is_a_value_error():
    assert issubclass(FormulaError, ValueError)


@pytest.mark.parametrize("name", ["sleepstudy", "sleepstudy_uncor", "pastes"])
def test_the_front_end_serves_lmer_as_well(name):
    """mixedlm's lmer on design.frame() gives lme4's REML fit (the coordinator's switch)."""
    import warnings

    import mixedlm

    ref = lme4_reference(name, "lme4_lmer.json")
    design = build_design(ref.formula, pd.read_csv(ROOT / "data" / ref.data))
    frame, plain, names = design.frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mixedlm.lmer(plain, frame, REML=True)
    assert [names[f"x{j}"] for j in range(len(design.fixed_names))] == ref.fixed["term"].tolist()
    np.testing.assert_allclose(fit.beta, ref.fixed["estimate"], atol=1e-4)
    assert fit.REMLcrit() == pytest.approx(ref.criterion, abs=1e-3)
