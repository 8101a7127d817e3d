"""Checks of the repository itself: chapters, configuration, dependencies and CI."""

import re
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))

sys.path.insert(0, str(ROOT / "scripts"))
import sync_environment  # noqa: E402


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files.extend(ch["file"] for ch in part["chapters"])
    return files


def test_there_are_chapters():
    assert len(CHAPTERS) >= 3


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_is_saved_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {i} has saved outputs"
            assert cell.execution_count is None, f"{path.name}: cell {i} has an execution count"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_glues_numbers_and_asserts_its_claims(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert any(re.search(r"\bglue(_all)?\(", c.source) for c in code), (
        f"{path.name} glues no number"
    )
    hidden_asserts = [
        c
        for c in code
        if "remove-cell" in c.metadata.get("tags", []) and re.search(r"^\s*assert ", c.source, re.M)
    ]
    assert hidden_asserts, f"{path.name} has no hidden assertion cell (tag remove-cell)"
    # (that every glued key used in the prose exists is checked by the strict build: a missing
    # key is a warning, and -W makes it an error)


def test_every_chapter_is_in_the_toc_and_every_toc_entry_exists():
    listed = set(toc_files())
    for path in CHAPTERS:
        assert f"book/{path.stem}" in listed, f"{path.name} is not in _toc.yml"
    for entry in listed:
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".ipynb", ".md")), entry


def test_book_config_is_strict_offline_and_complete():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "cache"
    assert config["execute"].get("allow_errors", False) is False
    assert "sphinx-mathjax-offline" in config["sphinx"]["extra_extensions"]
    patterns = " ".join(config["exclude_patterns"])
    for needed in (".venv", "_build", "ipynb_checkpoints"):
        assert needed in patterns
    assert config["title"] and config["author"] and re.search(r"\d{4}", config["copyright"])
    assert config["repository"]["url"].startswith("https://")
    assert config["html"]["use_download_button"] is True


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make book" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.startswith("#")]
    assert "make test" in commands


def _pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs.extend(extra)
    return [Requirement(r) for r in reqs]


def test_lock_file_pins_every_direct_dependency_within_its_range():
    pins = sync_environment.locked_versions()
    for req in _pyproject_requirements():
        version = pins.get(canonicalize_name(req.name))
        assert version is not None, f"{req.name} is not pinned in requirements.lock"
        assert req.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {req.name}=={version}, outside pyproject's {req.specifier}"
        )


def test_lock_file_pins_exact_versions_only():
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^=<>~!,\s]+", line.strip()), line


def test_environment_yml_mirrors_pyproject_and_lock():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    in_env = {canonicalize_name(Requirement(s).name): s.split("==")[1] for s in pip_section}
    pins = sync_environment.locked_versions()
    expected = {
        canonicalize_name(r.name): pins[canonicalize_name(r.name)]
        for r in _pyproject_requirements()
    }
    assert in_env == expected, "environment.yml drifted: run scripts/sync_environment.py"
    assert f"python={sync_environment.python_minor()}" in env["dependencies"]


def test_python_is_at_least_3_12_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.12"
    assert sync_environment.python_minor() == "3.12"
    assert "(Python 3.12," in (ROOT / "requirements.lock").read_text().splitlines()[0]


@pytest.mark.parametrize("path", [p for p in CHAPTERS if p.name[0].isdigit()], ids=lambda p: p.name)
def test_chapter_opens_with_a_summary_and_ends_with_a_run_note(path):
    nb = nbformat.read(path, as_version=4)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert "What you will learn" in markdown[0], f"{path.name}: first cell has no summary box"
    assert any("Run this chapter" in m for m in markdown), f"{path.name}: no run note"


@pytest.mark.parametrize("path", [p for p in CHAPTERS if p.name[0].isdigit()], ids=lambda p: p.name)
def test_chapter_has_a_label_and_is_referred_to_by_number_not_by_typed_number(path):
    """Chapters refer to each other with {numref}`chapter %s <ch-...>`, so that inserting a
    chapter renumbers every reference; a link whose text types the number would go stale."""
    nb = nbformat.read(path, as_version=4)
    assert re.match(r"\(ch-[a-z0-9-]+\)=\n# ", nb.cells[0].source), (
        f"{path.name}: the first cell must open with a (ch-...)= label and the title"
    )
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    typed = re.findall(r"\[[Cc]hapters? \d+[a-z]?\]\([^)]*\)", markdown)
    assert not typed, f"{path.name}: links that type a chapter number: {typed}"


# Numbers a chapter may type in its prose: conventional levels and thresholds, facts of the
# data sets' definitions, and years. Every other number must be computed and glued.
ALLOWED_PHRASES = (
    r"\b(?:2\.5|97\.5)%",  # the tails of a 95% interval
    r"\b(?:5|50|95)%",  # conventional error and interval levels
    r"\b1\.01\b",  # the r-hat threshold (Vehtari et al. 2021)
    r"±2 standard errors",
    r"\b[Cc]hapters? \d+b?(?:'s)?(?:,? (?:and|or) \d+b?)?",  # until they are cross-references
    r"^\s*\d+\.\s",  # numbered lists
    r"\b1–5\b|\b1-to-5\b|\b0/1\b|from 1 \(poor\) to 5|only\s+be\s+1 to 5",  # InstEval's scale
    r"\blme4\b|\bmixedlm\b|\bbambi\b",
    r"\bL2\b",  # the L2 (ridge) penalty
    r"\b(?:close to|above|below|around|at|than|correlation)\s+1\b|instead of 2|shape 2",  # maths
    r"\bbow [12]\b",  # notation: bow 1 is Northwood
    r"\b(?:19|20)\d\d\b",  # years
)


def _prose_numbers(markdown: str) -> list[str]:
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)  # admonition bodies are checked below
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$]*\$", " ", text)
    text = re.sub(r"\{[a-z:]+\}`[^`]*`", " ", text)  # glue, term, ref, doc, cite, numref roles
    text = re.sub(r"`[^`]*`", " ", text)  # code
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    text = "\n".join(ln for ln in text.split("\n") if not ln.lstrip().startswith(("#", ":")))
    for pattern in ALLOWED_PHRASES:
        text = re.sub(pattern, " ", text, flags=re.M)
    return re.findall(r"\S*\d\S*", text)


# Digits a chapter may type inside math: structural 0, 1 and 2 (indices, exponents, halves) are
# not matched at all; these are conventions and notation. Every other number in math is glued.
ALLOWED_IN_MATH = (
    r"\\[td]?frac12",  # one half, \tfrac12
    r"\b10\^\{?-?\d+\}?",  # orders of magnitude, 10^8, 10^{-6}
    # normal and chi-square quantiles, levels, the Pareto-k threshold
    r"\b(?:1\.96|1\.645|3\.84|0\.05|0\.95|0\.7)\b",
    r"\b(?:5|90|95|97\.5)\\?%",  # conventional levels
)

# Number words that state a result ("twenty times slower", "four decimals", "a billion"): glue
# digits instead. Number words that name a design fact ("three archers", "two bows") are prose.
_NUMBER_WORD = (
    r"(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty"
    r"|fifty|sixty|seventy|eighty|ninety|hundred|a\s+hundred|a\s+thousand)"
)
RESULT_NUMBER_WORDS = (
    rf"\b{_NUMBER_WORD}\s+times\s+(?:as|the|slower|faster|larger|smaller|more|less|wider"
    r"|narrower|longer|shorter|higher|lower|bigger)\b",
    rf"\b{_NUMBER_WORD}(?:\s+|-)(?:fold|decimals?|decimal places|significant digits)\b",
    r"\b(?:twice as|thrice|twofold|threefold|fourfold|tenfold|half as)\b",
    r"\b(?:millions?|billions?|trillions?)\b",
)


def _math_numbers(markdown: str) -> list[str]:
    """Numbers typed inside $...$ and $$...$$ (after removing code, which may hold dollars)."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    spans = re.findall(r"\$\$(.*?)\$\$", text, flags=re.S)
    spans += re.findall(r"\$([^$]+)\$", re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S))
    found = []
    for span in spans:
        for pattern in ALLOWED_IN_MATH:
            span = re.sub(pattern, " ", span)
        found += [tok for tok in re.findall(r"\d+(?:\.\d+)?", span) if tok not in {"0", "1", "2"}]
    return found


def _number_words(markdown: str) -> list[str]:
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    found = []
    for pattern in RESULT_NUMBER_WORDS:
        found += [m.group(0) for m in re.finditer(pattern, text, flags=re.I)]
    return found


def _markdown_with_admonitions(source: str) -> str:
    """Markdown with the bodies of {admonition}/{note} fences kept (they are prose too)."""
    return re.sub(r"```\{[a-z-]+\}[^\n]*\n(.*?)```", r"\1", source, flags=re.S)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_prose_types_no_numbers(path):
    nb = nbformat.read(path, as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            found += [
                f"cell {i}: {tok}"
                for tok in _prose_numbers(_markdown_with_admonitions(cell.source))
            ]
    assert not found, f"{path.name}: numbers typed in prose (glue them): {found}"


PAGES = [*CHAPTERS, ROOT / "book" / "intro.md", ROOT / "book" / "glossary.md"]


def _page_markdown(path: Path) -> list[str]:
    if path.suffix == ".md":
        return [path.read_text()]
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_page_types_no_numbers_in_math_and_no_result_number_words(path):
    found = []
    for i, source in enumerate(_page_markdown(path)):
        source = _markdown_with_admonitions(source)
        found += [f"cell {i}: math {tok}" for tok in _math_numbers(source)]
        found += [f"cell {i}: words {tok!r}" for tok in _number_words(source)]
    assert not found, f"{path.name}: typed numbers in math or result-stating number words: {found}"


def test_the_math_and_number_word_checks_catch_typed_numbers():
    assert _math_numbers(r"$N(150, 50^2)$ and $\sigma_a = 1$, $n = 30$") == ["150", "50", "30"]
    assert _math_numbers(r"$\tfrac12\chi^2_1$, $10^8$ rows, $\pm 1.96$, `$x = 7$`") == []
    assert _number_words("It is twenty times slower, to four decimals, on a billion rows.") == [
        "twenty times slower",
        "four decimals",
        "billion",
    ]
    design = "Three archers shot each bow ten times, twice; `ten times as` in code."
    assert _number_words(design) == []
    assert _number_words("three times the rows cost ten times the time") == [
        "three times the",
        "ten times the",
    ]


def test_the_typed_number_check_catches_a_typed_number():
    assert _prose_numbers("The bow costs 9.8 m.") == ["9.8"]
    assert _prose_numbers("It costs {glue:text}`tau:.1f` m, at the 95% level; $n = 20$.") == []


def _figure_cells(nb) -> list[tuple[int, object]]:
    """Code cells that draw a figure: they assign ``fig`` (the chapters' convention)."""
    return [
        (i, c)
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and re.search(r"^fig\b[^=\n]*=", c.source, re.M)
    ]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_figure_has_a_caption_a_label_and_alt_text(path):
    nb = nbformat.read(path, as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    problems = []
    for i, cell in _figure_cells(nb):
        options = cell.metadata.get("mystnb", {})
        figure, image = options.get("figure", {}), options.get("image", {})
        name, caption = figure.get("name", ""), figure.get("caption", "")
        if not re.fullmatch(r"fig-[a-z0-9-]+", name):
            problems.append(f"cell {i}: figure name {name!r} is not fig-...")
        if len(caption.split()) < 5:
            problems.append(f"cell {i}: no caption of a sentence or more")
        if len(image.get("alt", "").split()) < 5:
            problems.append(f"cell {i}: no alt text")
        typed = _prose_numbers(caption)
        if typed:
            problems.append(f"cell {i}: numbers typed in the caption: {typed}")
        if f"{{numref}}`{name}`" not in prose:
            problems.append(f"cell {i}: the text never refers to {name} by number")
        if cell.source.count("plt.subplots(") + cell.source.count("plt.figure(") > 0:
            problems.append(f"cell {i}: composes its figure itself (use an analysis function)")
    assert not problems, f"{path.name}: {problems}"


def test_figure_names_are_unique_across_the_book():
    names = [
        c.metadata["mystnb"]["figure"]["name"]
        for p in CHAPTERS
        for _, c in _figure_cells(nbformat.read(p, as_version=4))
        if "figure" in c.metadata.get("mystnb", {})
    ]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def _package_imports() -> dict[str, set[str]]:
    """Each module of ``analysis`` and the modules of ``analysis`` it imports, lazily or not."""
    import ast

    modules: dict[str, set[str]] = {}
    for path in (ROOT / "analysis").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("analysis"):
                deps.add(node.module)
                if node.module == "analysis":  # from analysis import studies
                    deps.update(f"analysis.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("analysis"))
        modules[name] = deps

    def resolve(dep: str) -> str:
        while dep not in modules and "." in dep:
            dep = dep.rsplit(".", 1)[0]
        return dep

    return {m: {resolve(d) for d in deps} - {m} for m, deps in modules.items()}


def test_package_has_no_import_cycle():
    graph = _package_imports()
    assert "analysis.models.mixed" in graph and "analysis.models.likelihood" in graph
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            assert state.get(dep) != 1, "import cycle: " + " -> ".join([*path, dep])
            if dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


#: Each layer of ``analysis`` and the layers it must not import, lazily or not. From the bottom:
#: validation and quiet; datasets and models side by side (a model fits any data, so models
#: never import the simulators); bayes and studies (a simulation study draws from datasets and
#: refits models); plots (only this layer draws, and its style module knows no data, models or
#: studies); book and cli at the top, the chapters' and the command line's helpers.
LAYER_RULES: dict[str, tuple[str, ...]] = {
    "analysis.datasets": (
        "analysis.models",
        "analysis.studies",
        "analysis.bayes",
        "analysis.plots",
        "analysis.book",
        "analysis.cli",
    ),
    "analysis.models": (
        "analysis.datasets",
        "analysis.studies",
        "analysis.bayes",
        "analysis.plots",
        "analysis.book",
        "analysis.cli",
    ),
    "analysis.studies": ("analysis.plots", "analysis.book", "analysis.cli"),
    "analysis.bayes": ("analysis.studies", "analysis.plots", "analysis.book", "analysis.cli"),
    "analysis.plots": ("analysis.book", "analysis.cli"),
    "analysis.plots.style": (
        "analysis.datasets",
        "analysis.models",
        "analysis.studies",
        "analysis.bayes",
    ),
}


def _in_layer(module: str, layer: str) -> bool:
    return module == layer or module.startswith(layer + ".")


def _layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import in ``graph`` (module to the modules it imports) that LAYER_RULES forbids."""
    return [
        f"{module} imports {dep} (the layer {layer} must not import {forbidden})"
        for module, deps in sorted(graph.items())
        for layer, forbids in LAYER_RULES.items()
        if _in_layer(module, layer)
        for dep in sorted(deps)
        for forbidden in forbids
        if _in_layer(dep, forbidden)
    ]


def _plot_functions(source: str) -> list[str]:
    """Names of the ``plot_*`` functions a module's source defines."""
    import ast

    return [
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("plot_")
    ]


def test_lower_layers_do_not_import_higher_ones():
    """Each layer imports only the layers below it (LAYER_RULES); models never sample data."""
    graph = _package_imports()
    assert {"analysis.studies.power", "analysis.plots.style"} <= set(graph)
    assert _layer_violations(graph) == []


def test_the_style_module_holds_style_only():
    """analysis/plots/style.py defines no figure: the figures are in the plots modules."""
    source = (ROOT / "analysis" / "plots" / "style.py").read_text()
    assert "def set_style" in source
    assert _plot_functions(source) == []


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [(layer, f) for layer, forbids in LAYER_RULES.items() for f in forbids],
)
def test_the_layer_checker_fails_when_a_rule_is_broken(layer, forbidden):
    """Every rule of LAYER_RULES can fail: a synthetic import that breaks it is reported."""
    graph = {f"{layer}.some_module": {f"{forbidden}.other", "analysis.validation"}}
    found = _layer_violations(graph)
    assert len(found) >= 1 and all(forbidden in v for v in found), found
    assert _layer_violations({f"{layer}.some_module": {"analysis.validation"}}) == []


def test_the_layer_checker_allows_what_the_layers_may_import():
    """Studies may import models and datasets; plots may import studies; book may import all."""
    allowed = {
        "analysis.studies.power": {"analysis.models.ols", "analysis.datasets.archers"},
        "analysis.plots.slopes": {"analysis.studies.coverage", "analysis.plots.style"},
        "analysis.book.lme4": {"analysis.models.results", "analysis.plots.mixed"},
        "analysis.modelsx": {"analysis.datasets"},  # a name that only starts like a layer
    }
    assert _layer_violations(allowed) == []


def test_the_plot_function_finder_finds_a_figure_in_a_style_module():
    source = "def set_style():\n    pass\n\n\ndef plot_power(power):\n    return None\n"
    assert _plot_functions(source) == ["plot_power"]
    assert _plot_functions("def figure_axes(ax, figsize):\n    return ax\n") == []


def test_bayes_sits_below_the_book_layer_and_starts_quietly():
    """The Bayesian layer sits below the chapter helpers (analysis.book), plots and the command
    line, and every module of it that imports PyMC, PyTensor, ArviZ, nutpie or Bambi first
    imports analysis.quiet, which quiets PyTensor's start-up."""
    import ast

    graph = _package_imports()
    for module, deps in graph.items():
        if module.startswith("analysis.bayes"):
            bad = sorted(d for d in deps if d.startswith("analysis.book"))
            assert not bad, f"{module} imports the chapter helpers {bad}"
            assert not any(d.startswith(("analysis.plots", "analysis.cli")) for d in deps), module
    heavy = ("pymc", "pytensor", "arviz", "nutpie", "bambi")
    for path in (ROOT / "analysis" / "bayes").glob("*.py"):
        imports = [
            n
            for n in ast.parse(path.read_text()).body
            if isinstance(n, ast.Import | ast.ImportFrom)
        ]
        names = [
            (n.module or "") if isinstance(n, ast.ImportFrom) else n.names[0].name for n in imports
        ]
        names = [n for n in names if n != "__future__"]
        if any(n.split(".")[0] in heavy for n in names):
            assert names[0] == "analysis.quiet", f"{path.name}: quiet must be imported first"


@pytest.mark.parametrize("package", ["bayes", "studies"])
def test_the_package_init_only_documents_and_re_exports(package):
    """analysis/bayes/ and analysis/studies/ gather their concepts' modules; their __init__.py
    defines nothing itself."""
    import ast

    tree = ast.parse((ROOT / "analysis" / package / "__init__.py").read_text())
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    assert not defined, f"analysis.{package} defines {defined}: put them in a module of their own"


def test_the_models_layer_reads_results_through_one_vocabulary():
    """The comparison with lme4 and the command line read fits through models.results."""
    graph = _package_imports()
    assert "analysis.models.results" in graph["analysis.book.lme4"]


def test_only_the_plots_layer_draws():
    """Figures live in analysis.plots; no other layer imports matplotlib or defines plot_*."""
    import ast

    for path in (ROOT / "analysis").rglob("*.py"):
        rel = path.relative_to(ROOT / "analysis").as_posix()
        if rel.startswith("plots/"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                assert not node.name.startswith("plot_"), f"{rel}: {node.name} belongs in plots/"
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.startswith("matplotlib") for n in names), f"{rel} imports {names}"


def test_lint_checks_the_format_of_the_whole_repository():
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "ruff check ." in lint and "ruff format --check ." in lint


def test_the_bibliography_parses_and_every_citation_has_an_entry():
    from pybtex.database import parse_file

    keys = set(parse_file(str(ROOT / "references.bib")).entries)
    cited = set()
    for path in [*CHAPTERS, *(ROOT / "book").glob("*.md")]:
        text = path.read_text()
        for group in re.findall(r"\{cite:[tp]\}`([^`]+)`", text):
            cited.update(k.strip() for k in group.split(","))
    assert cited <= keys, f"cited but not in references.bib: {sorted(cited - keys)}"
