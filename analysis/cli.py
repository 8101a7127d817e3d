"""The command line of the package: ``python -m analysis COMMAND ...``.

Five commands fit the book's models to a file of your own:

``fit-mixed``
    ``response ~ fixed + (1 | group)`` by REML with statsmodels' ``MixedLM``
    (:mod:`analysis.models.mixed`), with profile-likelihood intervals for the two SDs and the
    BLUPs by group, e.g.
    ``python -m analysis fit-mixed PATH.csv --response Distance --fixed Bow --group Name --json``.
``fit-crossed``
    One random intercept per grouping column (crossed or nested) by REML with the package's own
    fitter (:mod:`analysis.models.crossed`), e.g.
    ``python -m analysis fit-crossed PATH.csv --response y --fixed service --groups s d dept``.
``fit-large``
    The same model for data too large for REML: SDs by the method of moments, fixed effects and
    conditional modes by conjugate gradients or backfitting (:mod:`analysis.models.large`), on
    a CSV file or a Parquet file or folder read with Dask.
``lmer``
    Any lme4 formula, fitted by mixedlm (:mod:`analysis.models.lmer`), e.g.
    ``python -m analysis lmer PATH.csv --formula "Reaction ~ Days + (Days | Subject)" --profile``.
``glmer``
    Binomial, Poisson or negative-binomial responses (:mod:`analysis.models.glmer`), e.g.
    ``python -m analysis glmer PATH.csv --formula "hit ~ Bow + distance + (1 + Bow | Name)"
    --family binomial``.

Every command prints its fit one way: the fitter's result is read into the one result of every fit
(:func:`analysis.models.results.result_of`, a :class:`~analysis.models.results.FitResult`) and
printed by its ``summary`` (``--top K`` adds the K lowest and highest conditional modes of every
grouping factor), or, with ``--json``, as one JSON document: ``command`` and ``file``, then the keys
of ``FitResult.to_dict`` (``kind``, ``formula``, ``family``, ``link``, ``method``, ``n_obs``,
``n_groups``, ``fixed``, ``varcorr``, ``sigma``, ``criterion_name``, ``criterion``, ``loglik``,
``df``, ``AIC``, ``BIC``, ``singular``, ``converged``, ``confint``, ``extras``, ``ranef``), then
``fit_seconds`` with ``--timings``. A successful command exits with status 0. Bad input (a missing
or unreadable file, a missing column, a model the data cannot support, a fit that fails or gives
non-finite numbers) is reported as one line ``COMMAND: error: MESSAGE`` on stderr, with exit status
2 and nothing on stdout; warnings go to stderr as ``COMMAND: warning: MESSAGE``, and so does
anything a library prints while fitting, so stdout holds the report or the document alone. Output
that cannot be written (a closed stdout, a pipe whose reader has gone, a full disk) is an error too,
status 2. The JSON documents hold no timings unless ``--timings`` asks for them, so two runs print
the same bytes.

Grouping columns are read as text: they hold labels, so ``001`` and ``1`` are two groups.

Registering the commands imports nothing heavy, so ``--help`` is instant; pandas, numpy and
the fitters are imported by the functions that run a command.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for the annotations only: registering the commands imports nothing heavy
    from analysis.models.results import FitResult

__all__ = ["CommandError", "EXIT_ERROR", "build_parser", "main", "run"]

#: Exit status of a command that fails on bad input (argparse uses it for bad options too).
EXIT_ERROR = 2


class CommandError(Exception):
    """Bad input or a failed fit, reported as ``COMMAND: error: MESSAGE`` with exit status 2."""


@dataclass(frozen=True)
class _Output:
    """What a command produced: one fit, read into the one result of every fit.

    Attributes
    ----------
    result
        The fit (:class:`analysis.models.results.FitResult`): printed by its ``summary``, or
        as its ``to_dict`` inside the envelope of :func:`_document` with ``--json``.
    file
        The data file or folder the command read.
    fit_seconds
        Wall time of the fit (intervals included), put in the output with ``--timings``.
    warnings
        Messages to print on stderr as ``COMMAND: warning: MESSAGE``.
    """

    result: FitResult
    file: str
    fit_seconds: float
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Command:
    """One command: its name, help, options and the function that runs it.

    Attributes
    ----------
    name
        The command's name on the command line.
    help
        One line for ``python -m analysis --help``.
    description
        The paragraph of ``python -m analysis NAME --help``.
    add_arguments
        Adds the command's options to its parser.
    fit
        Reads the data, fits the model and returns an :class:`_Output`; raises
        :class:`CommandError` (or ``ValueError`` and the like, see :func:`_execute`).
    hint
        Advice appended to the message when the fit fails numerically.
    """

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    fit: Callable[[argparse.Namespace], _Output]
    hint: str


# --------------------------------------------------------------------------------------------
# What the commands share: options, reading the data, errors, output
# --------------------------------------------------------------------------------------------


def _add_common_arguments(
    parser: argparse.ArgumentParser,
    *,
    data: str = "csv",
    data_help: str = "CSV file with a header row",
    response: str | None = None,
    fixed: Sequence[str] = (),
    fixed_help: str = "fixed-effect columns (an intercept is always included)",
    groups_help: str | None = None,
) -> None:
    """Add the data argument and the column options most commands share.

    Parameters
    ----------
    parser
        The command's parser.
    data
        Name of the positional argument naming the data file.
    data_help
        Its help text.
    response
        Default ``--response`` column; ``None`` makes the option required.
    fixed
        Default ``--fixed`` columns.
    fixed_help
        Help text of ``--fixed``.
    groups_help
        Help text of ``--groups`` (one or more grouping columns, required); ``None`` leaves
        the grouping option to the command.
    """
    parser.add_argument(data, help=data_help)
    if response is None:
        parser.add_argument("--response", required=True, help="numeric response column")
    else:
        parser.add_argument("--response", default=response, help="numeric response column")
    parser.add_argument(
        "--fixed", nargs="*", default=list(fixed), metavar="COLUMN", help=fixed_help
    )
    if groups_help is not None:
        parser.add_argument(
            "--groups", nargs="+", required=True, metavar="COLUMN", help=groups_help
        )


def _add_ml(parser: argparse.ArgumentParser) -> None:
    """Add ``--ml`` (maximum likelihood instead of REML)."""
    parser.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")


def _add_output(parser: argparse.ArgumentParser, *, top: int = 0) -> None:
    """Add the output options every command shares: ``--json``, ``--timings``, ``--top``."""
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--timings",
        action="store_true",
        help="add the fit's wall time (fit_seconds) to the output; without it two runs "
        "on the same data print the same document, byte for byte",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=top,
        metavar="K",
        help=f"without --json, how many conditional modes per grouping factor to show at "
        f"each end, the lowest and the highest (default {top})",
    )


def _document(command: str, output: _Output, timings: bool) -> dict[str, Any]:
    """Return the JSON document of every command: a small envelope around the fit's result.

    ``command`` and ``file`` first, then the keys of
    :meth:`analysis.models.results.FitResult.to_dict`, then ``fit_seconds`` with
    ``--timings`` only (so that two runs print the same bytes).
    """
    document = {"command": command, "file": output.file, **output.result.to_dict()}
    if timings:
        document["fit_seconds"] = output.fit_seconds
    return document


def _one_line(text: object) -> str:
    """Return ``text`` with every run of whitespace, line breaks included, made one space."""
    return " ".join(str(text).split())


def _read_csv(path: str, text_columns: Iterable[str] = ()) -> Any:
    """Read a CSV file with a header row and at least one data row.

    Parameters
    ----------
    path
        The file (compressed ``.gz``, ``.bz2``, ``.xz``, ``.zip`` or ``.zst`` files too, the
        suffix in any case).
    text_columns
        Columns read as text, as written: grouping columns hold labels, so ``001`` and ``1``
        stay two levels instead of both becoming the number 1.

    Returns
    -------
    pandas.DataFrame
        Its contents.

    Raises
    ------
    CommandError
        If the file is missing, a directory, unreadable, not CSV, empty or has no data rows;
        the message names the file.
    """
    import pandas as pd

    try:
        data = pd.read_csv(
            path, dtype=dict.fromkeys(text_columns, str), compression=_compression(path)
        )
    except FileNotFoundError:
        raise CommandError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise CommandError(f"{path} is a directory, not a CSV file") from None
    except pd.errors.EmptyDataError:
        raise CommandError(f"{path} is empty (no header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CommandError(f"could not read {path} as CSV: {exc}") from None
    except OSError as exc:
        raise CommandError(f"could not read {path}: {exc.strerror or exc}") from None
    if len(data) == 0:
        raise CommandError(f"{path} is empty: it has a header but no data rows")
    for column in text_columns:
        if column in data.columns:
            data[column] = _labels(data[column])
    return data


def _labels(column: Any) -> Any:
    """Return a text column of level labels as a categorical in their natural order.

    Labels that are all plain integers (``7``, ``12``; not ``007``) are ordered as numbers,
    as R orders the levels of an integer column; others are ordered as text. The labels stay
    text either way, so ``001`` and ``1`` remain two levels.
    """
    import re

    import pandas as pd

    labels = pd.unique(column.dropna())
    if all(re.fullmatch(r"-?(0|[1-9][0-9]*)", label) for label in labels):
        order = sorted(labels, key=int)
    else:
        order = sorted(labels)
    return pd.Categorical(column, categories=order)


#: Compression of a CSV file by its last suffix (lower case), as pandas names it.
_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip", ".zst": "zstd"}


def _compression(path: str) -> str | None:
    """Return the compression of ``path`` from its suffix, whatever its case (``None``: none)."""
    from pathlib import Path

    return _COMPRESSIONS.get(Path(path).suffix.lower())


def _is_csv(path: str) -> bool:
    """Whether ``path`` names a CSV file: ``.csv``, possibly compressed, in any case."""
    from pathlib import Path

    name = Path(path).name.lower()
    return name.endswith(".csv") or any(name.endswith(".csv" + s) for s in _COMPRESSIONS)


def _read_parquet(path: str) -> Any:
    """Open a Parquet file or folder as a Dask frame, one row group per partition.

    Raises
    ------
    CommandError
        If it cannot be read as Parquet; the message names the file.
    """
    import dask.dataframe as dd

    try:
        return dd.read_parquet(path, split_row_groups=True)
    except (ValueError, OSError) as exc:
        reason = str(exc).rsplit("Original Message:", 1)[-1]
        raise CommandError(f"could not read {path} as Parquet: {_one_line(reason)}") from None


def _require_columns(data: Any, path: str, columns: Iterable[str]) -> None:
    """Raise :class:`CommandError` naming the file and the columns it lacks, if any.

    Parameters
    ----------
    data
        A pandas or Dask frame.
    path
        The file it was read from.
    columns
        The columns the command needs.
    """
    missing = list(dict.fromkeys(c for c in columns if c not in data.columns))
    if missing:
        raise CommandError(
            f"{path} has no column(s) {missing}; its columns are {list(map(str, data.columns))}"
        )


def _non_finite_at(value: Any, where: str = "") -> str | None:
    """Return the path (``fixed.x.se``) of the first NaN or infinity in ``value``, if any."""
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return where or "the document"
    if isinstance(value, dict):
        items = ((f"{where}.{k}" if where else str(k), v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        found = _non_finite_at(item, key)
        if found is not None:
            return found
    return None


def _json_text(document: dict[str, Any]) -> str:
    """Return ``document`` as strict JSON.

    Raises
    ------
    CommandError
        If it holds NaN or an infinity, which JSON cannot represent: a fit that gives such
        numbers has failed. The message names the first such value.
    """
    try:
        return json.dumps(document, allow_nan=False)
    except ValueError:
        where = _non_finite_at(document)
        raise CommandError(
            f"the fit produced a non-finite value ({where}): the estimates cannot be trusted"
        ) from None


def _error(command: str, message: object) -> int:
    """Print ``COMMAND: error: MESSAGE`` (one line) on stderr and return :data:`EXIT_ERROR`."""
    print(f"{command}: error: {_one_line(message)}", file=sys.stderr)
    return EXIT_ERROR


def _stdout_is_open() -> bool:
    """Whether standard output can be written to (``>&-`` closes it: Python then has none)."""
    import os

    if sys.stdout is None:
        return False
    try:
        descriptor = sys.stdout.fileno()
    except (OSError, ValueError):  # an in-memory stream (a test's capture): open
        return True
    try:
        os.fstat(descriptor)
    except OSError:
        return False
    return True


def _write_stdout(command: str, text: str) -> int:
    """Write ``text`` to stdout; a closed pipe or a full disk is one error line, status 2.

    After a failed write, stdout is pointed at ``/dev/null`` so that the interpreter's own
    flush at exit does not fail a second time (with a traceback).
    """
    import os

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.stdout.fileno())
            os.close(null)
        except (OSError, ValueError):
            pass
        if isinstance(exc, BrokenPipeError):
            return _error(command, "the output was cut short: the reader closed the pipe")
        return _error(command, f"could not write the output: {exc.strerror or exc}")
    return 0


def _execute(command: _Command, args: argparse.Namespace) -> int:
    """Run ``command`` on the parsed ``args`` and return the exit status.

    Bad input and failed fits become an error message and status 2, never a traceback:
    :class:`CommandError` and ``ValueError``, ``KeyError`` or ``OSError`` from the fitters
    give their own message; numerical failures (``ArithmeticError``, ``LinAlgError``,
    ``RuntimeError``) the command's hint. Warnings raised while fitting are printed as one
    line each, after a successful fit only; whatever a library prints on stdout while fitting
    is caught and printed as warnings too, so stdout holds only the report or the JSON
    document. The JSON document is checked to be strict JSON even without ``--json``, so a
    fit with non-finite numbers is an error either way. A closed stdout, a closed pipe and a
    full disk are errors too (status 2): the output is never lost silently.

    Parameters
    ----------
    command
        The command.
    args
        Its parsed options.

    Returns
    -------
    int
        0 on success, :data:`EXIT_ERROR` on bad input or output that could not be written.
    """
    import contextlib
    import io

    import numpy as np

    if not _stdout_is_open():
        return _error(
            command.name, "standard output is closed: there is nowhere to write the result"
        )
    chatter = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(chatter):
            _ignore_library_noise()
            try:
                if args.top < 0:
                    raise CommandError(f"--top must not be negative, got {args.top}")
                output = command.fit(args)
            except (ArithmeticError, np.linalg.LinAlgError, RuntimeError) as exc:
                # LinAlgError is a ValueError: this clause comes first
                raise CommandError(f"the fit failed ({exc}); {command.hint}") from None
            except KeyError as exc:
                raise CommandError(f"missing key or column {exc}") from None
            except (ValueError, OSError) as exc:
                raise CommandError(str(exc)) from None
            text = _json_text(_document(command.name, output, args.timings)) + "\n"
            if not args.json:
                text = output.result.summary(top=args.top) + "\n"
                if args.timings:
                    text += f"fit in {output.fit_seconds:.2f} s\n"
    except CommandError as exc:
        return _error(command.name, exc)
    messages = [
        *(str(w.message) for w in caught),
        *(line for line in chatter.getvalue().splitlines() if line.strip()),
        *output.warnings,
    ]
    for message in dict.fromkeys(messages):
        print(f"{command.name}: warning: {_one_line(message)}", file=sys.stderr)
    return _write_stdout(command.name, text)


def _ignore_library_noise() -> None:
    """Filter the warnings that say nothing about the user's data (inside a catch block).

    pandas' ``PerformanceWarning`` is about how a frame is stored, and Dask's cluster logs
    its start and stop; neither is a statement about the fit.
    """
    import logging

    import pandas as pd

    warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
    for name in ("distributed", "dask"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


# --------------------------------------------------------------------------------------------
# fit-mixed
# --------------------------------------------------------------------------------------------


def _mixed_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``fit-mixed``."""
    _add_common_arguments(
        parser,
        data="path",
        response="Distance",
        fixed=["Bow"],
        fixed_help="fixed-effect columns (none for an intercept only; default: Bow)",
    )
    parser.add_argument("--group", default="Name", help="grouping column (random intercepts)")
    _add_ml(parser)
    parser.add_argument("--level", type=float, default=0.95, help="confidence level")
    _add_output(parser)


def _with_profile(
    result: Any, fit: Any, level: float, fixed: Any = None, fixed_method: str = ""
) -> Any:
    """Return ``result`` with profile intervals of its SDs from the fit's own deviance.

    :func:`analysis.models.profile.confint` profiles the deviance function ``fit`` was
    computed with (ML, as lme4's ``confint``; nothing is fitted again); ``fixed`` adds
    intervals of the fixed effects (``parm``, ``lower``, ``upper``) computed otherwise, named
    by ``fixed_method``.
    """
    import pandas as pd

    from analysis.models.profile import confint
    from analysis.models.results import with_intervals

    ci = confint(fit, level=level)
    table = ci.reset_index().rename(columns={"parameter": "parm"})[["parm", "lower", "upper"]]
    method = "SDs by profile likelihood of the ML deviance (ML estimates), as lme4's confint"
    if fixed is not None:
        table = pd.concat([table, fixed[["parm", "lower", "upper"]]], ignore_index=True)
        method = f"{method}; {fixed_method}"
    estimates = {str(k): float(v) for k, v in ci["estimate"].items()}
    return with_intervals(result, table, level, method, estimates)


def _fit_mixed(args: argparse.Namespace) -> _Output:
    """Run ``fit-mixed``: REML (or ML) fit, profile intervals of the SDs, Wald of the rest."""
    import time

    import pandas as pd

    from analysis.models.mixed import fit_random_intercept
    from analysis.models.results import result_of
    from analysis.validation import check_level

    check_level(args.level, "--level")
    data = _read_csv(args.path, text_columns=[args.group])
    _require_columns(data, args.path, [args.response, *args.fixed, args.group])
    roles = {"response": args.response, "fixed": tuple(args.fixed), "group": args.group}
    start = time.perf_counter()
    fit = fit_random_intercept(data, reml=not args.ml, level=args.level, **roles)
    result = result_of(fit)
    wald = pd.DataFrame(
        {
            "parm": result.fixed["term"].to_numpy(),
            "lower": fit.fixed["ci_low"].to_numpy(float),
            "upper": fit.fixed["ci_high"].to_numpy(float),
        }
    )
    result = _with_profile(result, fit, args.level, wald, "fixed effects by Wald")
    seconds = time.perf_counter() - start
    return _Output(result, args.path, seconds)


# --------------------------------------------------------------------------------------------
# fit-crossed
# --------------------------------------------------------------------------------------------


def _crossed_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``fit-crossed``."""
    _add_common_arguments(
        parser,
        fixed_help="fixed-effect columns (an intercept is always included); text columns are "
        "treatment-coded against their first level",
        groups_help="grouping columns, each with its own random intercept",
    )
    parser.add_argument(
        "--factors",
        nargs="*",
        default=None,
        metavar="COLUMN",
        help="numeric fixed-effect columns to treat as factors (default: any fixed column "
        "holding only 0/1 values is treated as a factor, as InstEval's service is in lme4)",
    )
    _add_ml(parser)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="add profile-likelihood intervals of the SDs (the fit's own ML deviance, as "
        "lme4's confint; about 10 s on InstEval)",
    )
    parser.add_argument("--level", type=float, default=0.95, help="confidence level")
    _add_output(parser, top=5)


def _fit_crossed(args: argparse.Namespace) -> _Output:
    """Run ``fit-crossed``: crossed random intercepts by REML (or ML)."""
    import pandas as pd

    from analysis.models.crossed import fit_crossed
    from analysis.models.results import result_of
    from analysis.validation import check_level

    check_level(args.level, "--level")
    data = _read_csv(args.csv, text_columns=args.groups)
    _require_columns(data, args.csv, [args.response, *args.fixed, *args.groups])
    factors = args.factors
    if factors is None:
        factors = [
            c
            for c in args.fixed
            if pd.api.types.is_numeric_dtype(data[c]) and set(pd.unique(data[c].dropna())) <= {0, 1}
        ]
    for col in factors:
        if col not in args.fixed:
            raise CommandError(f"--factors column {col!r} is not one of --fixed {args.fixed}")
    # all at once: a column at a time fragments a wide frame (pandas' PerformanceWarning)
    data = data.assign(**{col: pd.Categorical(data[col]) for col in factors})
    fit = fit_crossed(data, args.response, args.fixed, args.groups, reml=not args.ml)
    result = result_of(fit)
    if args.profile:
        result = _with_profile(result, fit, args.level)
    return _Output(result, args.csv, fit.fit_seconds)


# --------------------------------------------------------------------------------------------
# fit-large
# --------------------------------------------------------------------------------------------


def _large_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``fit-large``."""
    _add_common_arguments(
        parser,
        data="data",
        data_help="Parquet file or folder, or CSV file",
        fixed_help="numeric fixed-effect columns (an intercept is always included)",
        groups_help="grouping columns (integer codes in Parquet input)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="run on a local Dask cluster of N worker processes (default: "
        "Dask's threaded scheduler)",
    )
    parser.add_argument(
        "--solver",
        choices=["cg", "backfitting"],
        default="cg",
        help="conjugate gradients (default) or backfitting",
    )
    parser.add_argument(
        "--tol",
        type=float,
        default=1e-8,
        help="tolerance (cg: relative residual; backfitting: change per sweep)",
    )
    parser.add_argument(
        "--max-sweeps", type=int, default=2000, help="iteration limit (one pass over the data each)"
    )
    _add_output(parser)


def _fit_large(args: argparse.Namespace) -> _Output:
    """Run ``fit-large``: moments and conjugate gradients (or backfitting), on Dask."""
    import dataclasses
    from pathlib import Path

    from analysis.models.large import fit_large
    from analysis.models.results import intercepts_formula, result_of

    if args.workers < 0:
        raise CommandError(f"--workers must not be negative, got {args.workers}")
    cores = _cores()
    if args.workers > cores:
        raise CommandError(
            f"--workers {args.workers} is more than the {cores} cores this machine gives the "
            f"process: use at most {cores}"
        )
    path = Path(args.data)
    if not path.exists():
        raise CommandError(f"no such file or folder: {args.data}")
    data = (
        _read_csv(args.data, text_columns=args.groups)
        if _is_csv(args.data)
        else _read_parquet(args.data)
    )
    _require_columns(data, args.data, [args.response, *args.fixed, *args.groups])
    client = None
    try:
        if args.workers:
            import logging

            from dask.distributed import Client, LocalCluster

            # no dashboard, and no log lines: a failure reaches the user as one error line
            client = Client(
                LocalCluster(
                    n_workers=args.workers,
                    threads_per_worker=1,
                    dashboard_address=":0",
                    silence_logs=logging.CRITICAL,
                )
            )
        fit = fit_large(
            data,
            args.response,
            args.fixed,
            args.groups,
            tol=args.tol,
            max_sweeps=args.max_sweeps,
            solver=args.solver,
        )
    finally:
        if client is not None:
            client.close()
    notes = () if fit.converged else (f"{args.solver} did not converge in {fit.sweeps} iterations",)
    result = result_of(fit)
    result = dataclasses.replace(
        result,
        formula=intercepts_formula(args.response, args.fixed, args.groups),
        extras={"solver": args.solver, "workers": args.workers, **result.extras},
    )
    return _Output(result, args.data, fit.fit_seconds, notes)


def _cores() -> int:
    """Return the number of cores this process may run on (at least 1)."""
    import os

    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # not Linux
        return max(os.cpu_count() or 1, 1)


# --------------------------------------------------------------------------------------------
# lmer
# --------------------------------------------------------------------------------------------


def _lmer_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``lmer``."""
    parser.add_argument("csv", help="CSV file with a header row")
    parser.add_argument("--formula", required=True, help='lme4 formula, e.g. "y ~ x + (1 + x | g)"')
    _add_ml(parser)
    parser.add_argument(
        "--profile", action="store_true", help="add profile-likelihood 95%% intervals"
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "mixedlm"),
        default="auto",
        help="auto (default): crossed or nested random intercepts by the package's own sparse "
        "REML fitter, everything else by mixedlm; mixedlm: always mixedlm",
    )
    _add_output(parser)


#: Level of ``lmer --profile``'s intervals (lme4's ``confint`` default).
_PROFILE_LEVEL = 0.95


def _fit_lmer(args: argparse.Namespace) -> _Output:
    """Run ``lmer``: any lme4 formula (crossed intercepts by the fast path); text is factors."""
    import dataclasses
    import time

    from analysis.models.fast_path import crossed_route, fit_crossed_route
    from analysis.models.lmer import fit_lmer, grouping_columns, profile_frame
    from analysis.models.results import result_of, with_intervals

    try:
        groups = grouping_columns(args.formula)
    except ValueError:  # fit_lmer reports the formula's fault
        groups = []
    data = _read_csv(args.csv, text_columns=groups)
    for col in data.columns:  # identifiers such as subject numbers are labels, not numbers
        if data[col].dtype == object:
            data[col] = data[col].astype(str)
    # One pipeline: crossed or nested random intercepts only go to the package's own sparse
    # REML fitter (same optimum as mixedlm, several times faster); everything else to mixedlm.
    try:
        fast = not args.profile and args.engine == "auto"
        route = crossed_route(args.formula, data) if fast else None
    except ValueError:  # the full path below reports what is wrong with the input
        route = None
    start = time.perf_counter()
    if route is not None:
        result = fit_crossed_route(route, reml=not args.ml)
    else:
        fit = fit_lmer(args.formula, data, reml=not args.ml)
        result = result_of(fit)
        if args.profile:
            method = "profile likelihood of the ML deviance, as lme4's confint(method = 'profile')"
            table = profile_frame(fit, _PROFILE_LEVEL)
            result = with_intervals(result, table, _PROFILE_LEVEL, method)
    seconds = time.perf_counter() - start
    return _Output(dataclasses.replace(result, formula=args.formula), args.csv, seconds)


# --------------------------------------------------------------------------------------------
# glmer
# --------------------------------------------------------------------------------------------


def _glmer_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``glmer``."""
    parser.add_argument("csv", help="CSV file with a header row")
    parser.add_argument(
        "--formula",
        required=True,
        help='lme4 formula, e.g. "cbind(hits, shots - hits) ~ Bow + I(distance - 40) + (1 | Name)"',
    )
    parser.add_argument(
        "--family",
        required=True,
        metavar="FAMILY",
        help="binomial (logit link), poisson or negbin (log link)",
    )
    parser.add_argument(
        "--nagq",
        type=int,
        default=1,
        metavar="N",
        help="1 for the Laplace approximation (default); more for adaptive "
        "Gauss-Hermite quadrature with one scalar random effect",
    )
    _add_output(parser)


def _fit_glmer(args: argparse.Namespace) -> _Output:
    """Run ``glmer``: a generalized linear mixed model as lme4's glmer (glmer.nb)."""
    from analysis.models.glmer import fit_glmer
    from analysis.models.results import result_of

    data = _read_csv(args.csv)
    fit = fit_glmer(args.formula, data, args.family, nagq=args.nagq)
    return _Output(result_of(fit), args.csv, fit.fit_seconds)


# --------------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------------

#: The commands, in the order ``--help`` lists them.
_COMMANDS: tuple[_Command, ...] = (
    _Command(
        name="fit-mixed",
        help="fit response ~ fixed + (1 | group) by REML, with profile CIs and BLUPs",
        description=(
            "Fit a random-intercept linear mixed model, response ~ fixed + (1 | group), by "
            "REML with statsmodels MixedLM. Prints lme4-style tables, or JSON with --json."
        ),
        add_arguments=_mixed_arguments,
        fit=_fit_mixed,
        hint="check for constant or duplicated fixed-effect columns",
    ),
    _Command(
        name="fit-crossed",
        help="fit y ~ fixed + (1|g1) + (1|g2) + ... by REML (crossed random intercepts)",
        description=(
            "Fit a linear mixed model with one random intercept per grouping column (the "
            "groupings may be crossed) by REML, or ML with --ml, as lme4's lmer would, and "
            "print fixed effects, standard deviations, the criterion and conditional modes."
        ),
        add_arguments=_crossed_arguments,
        fit=_fit_crossed,
        hint="check the response's scale and that every grouping column varies",
    ),
    _Command(
        name="fit-large",
        help="fit y ~ fixed + (1|g1) + (1|g2) + ... by moments and conjugate gradients "
        "(large data)",
        description=(
            "Fit crossed random intercepts to data too large for REML: variance components "
            "by the method of moments, fixed effects and conditional modes by backfitting. "
            "Parquet input is read with Dask, partition by partition."
        ),
        add_arguments=_large_arguments,
        fit=_fit_large,
        hint="check the response's scale and that every grouping column varies",
    ),
    _Command(
        name="lmer",
        help="fit any lme4 formula, e.g. 'y ~ x + (1 + x | g)' (random slopes, nesting, ...)",
        description=(
            "Fit a linear mixed model given by an lme4 formula by REML (or ML with --ml) and "
            "print what lme4's summary, VarCorr, ranef and confint would."
        ),
        add_arguments=_lmer_arguments,
        fit=_fit_lmer,
        hint="check the formula and the columns it names",
    ),
    _Command(
        name="glmer",
        help="fit a binomial, Poisson or negative-binomial mixed model from an lme4 formula",
        description=(
            "Fit a generalized linear mixed model given by an lme4 formula (cbind(successes, "
            "failures) responses, I(...), (x | g), (x || g), crossed and nested terms) by the "
            "Laplace approximation or adaptive quadrature, and print what lme4's glmer would."
        ),
        add_arguments=_glmer_arguments,
        fit=_fit_glmer,
        hint="check the formula, the family and the scale of the predictors",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``python -m analysis`` with every command registered.

    Registering imports nothing heavy (no pandas, numpy or fitter), so ``--help`` is instant.

    Returns
    -------
    argparse.ArgumentParser
        The parser; the parsed namespace's ``command`` is the command's name.
    """
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Fit the book's models to any CSV file.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command_parser = sub.add_parser(
            command.name, help=command.help, description=command.description
        )
        command.add_arguments(command_parser)
        command_parser.set_defaults(_command=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status.

    Parameters
    ----------
    argv
        The arguments, command first (``["fit-crossed", "data.csv", ...]``); default
        ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 on bad input or options (with a one-line message on stderr).
    """
    args = build_parser().parse_args(None if argv is None else list(argv))
    return _execute(args._command, args)


def run() -> None:
    """Run the command line as a process: :func:`main`, then exit with its status.

    Before exiting, every object the command made is frozen out of the garbage collector
    (:func:`gc.freeze`): at exit the interpreter's last collections would walk all of them
    (pandas', SciPy's and the fit's), which took about a tenth of a whole ``fit-crossed``
    run on InstEval (``bench/bench_cli_exit.py`` measures it). Python does not promise to
    finalise objects still alive at exit anyway; streams are still flushed and ``atexit``
    handlers still run. Only for a process that ends here: :func:`main` called from other
    code freezes nothing.
    """
    status = main()
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    run()
