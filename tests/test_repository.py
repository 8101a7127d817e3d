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
    assert any("glue(" in c.source for c in code), f"{path.name} glues no number"
    hidden_asserts = [
        c for c in code
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
    expected = {canonicalize_name(r.name): pins[canonicalize_name(r.name)]
                for r in _pyproject_requirements()}
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
