"""The student release end to end: build it, unpack it in a temporary folder whose path has a
space (Colab's "My Drive"), install it in a fresh venv with the two commands of its README (the
venv sees this interpreter's packages, so nothing is downloaded, but the Cython extension is
compiled), run `pytest grader` on the untouched starter (0 points, clear messages) and with the
solution's two files (every check that runs passes), and prove the bundle holds no solution code
and no hidden fixture.

With CS260_RELEASE_PYTHON=/path/to/python (`.ci/run student` passes Colab's Python 3.12) the venv
is made from that interpreter, with pip, and the README's commands download everything, as on a
student's fresh machine; CS260_RELEASE_ZIP names a release built beforehand.
"""
import json
import os
import re
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import config
from grader.tools import release
from grading import distinctive_solution_lines, validate_results

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solution" / "cs260"
HIDDEN = REPO / "fixtures" / "hidden"
RELEASE_PYTHON_ENV = "CS260_RELEASE_PYTHON"
RELEASE_ZIP_ENV = "CS260_RELEASE_ZIP"


@pytest.fixture(scope="module")
def bundle_zip(tmp_path_factory):
    """The student release: built here, or the one CS260_RELEASE_ZIP names (.ci/run student
    builds it with `python -m grader student-release`)."""
    given = os.environ.get(RELEASE_ZIP_ENV)
    if given:
        return Path(given)
    return release.build_release(tmp_path_factory.mktemp("release") / "cs260_homework.zip")


@pytest.fixture(scope="module")
def files(bundle_zip):
    return release.read_bundle(bundle_zip)


def readme_blocks(readme):
    """The fenced code blocks of the README, as lists of command lines."""
    return [[line for line in block.splitlines() if line.strip()]
            for block in re.findall(r"^```\n(.*?)^```", readme, flags=re.M | re.S)]


@pytest.fixture(scope="module")
def installed(bundle_zip, tmp_path_factory):
    """(bundle folder, env): unpacked and installed by the README's commands in a new venv."""
    work = tmp_path_factory.mktemp("student") / "My Drive"  # a space, as on Colab
    with zipfile.ZipFile(bundle_zip) as zf:
        zf.extractall(work)
    folder = work / release.BUNDLE_FOLDER
    venv = work / "venv"
    python = os.environ.get(RELEASE_PYTHON_ENV)
    if python:
        return folder, student_venv(python, venv)
    # --without-pip: pip too comes from this interpreter's packages (ensurepip is slow).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=300)
    # Reuse this interpreter's packages (numpy, Cython, pytest...) instead of downloading them.
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    parents = [p for p in site.getsitepackages() + [site.getusersitepackages()] if Path(p).is_dir()]
    Path(purelib, "_parent_packages.pth").write_text("\n".join(parents) + "\n")
    # pip would have installed pytest's console script into the venv; it found pytest already there
    # (a sh script, as pip writes one when the path has a space: a #! line cannot hold one).
    script = venv / "bin" / "pytest"
    script.write_text(f"#!/bin/sh\nexec \"{venv / 'bin' / 'python'}\" -c 'import sys; from pytest "
                      "import console_main; sys.exit(console_main())' \"$@\"\n")
    script.chmod(0o755)
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
               VIRTUAL_ENV=str(venv), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               CFLAGS="-O0")  # compiles all the same, faster
    env.pop("PYTHONPATH", None)
    env.pop("CS260_TRUSTED_STARTER", None)
    readme_install(folder, env)
    return folder, env


def readme_install(folder, env):
    """Run the README's install commands in the bundle folder."""
    install = readme_blocks((folder / "README.md").read_text())[0]
    assert len(install) == 2, install
    for command in install:
        proc = subprocess.run(command, shell=True, cwd=folder, env=env, capture_output=True,
                              text=True, timeout=900)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def student_venv(python, venv):
    """A student's fresh venv from `python`, the bundle installed into it by the README's
    commands, everything downloaded; returns the environment with the venv activated."""
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=600)
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
               VIRTUAL_ENV=str(venv))
    for var in ("PYTHONPATH", "CS260_TRUSTED_STARTER", "PIP_NO_INDEX"):
        env.pop(var, None)
    readme_install(venv.parent / release.BUNDLE_FOLDER, env)
    version = subprocess.run(["python", "-c", "import sys, numpy; print(sys.version.split()[0], "
                              "numpy.__version__)"], env=env, capture_output=True, text=True,
                             check=True).stdout.split()
    print(f"student venv: Python {version[0]}, numpy {version[1]} (from {python})")
    return env


def student_grade(folder, env, results):
    """The README's grading command, run in the bundle; (results.json, stdout)."""
    command = readme_blocks((folder / "README.md").read_text())[1]
    assert command == ["pytest grader"]
    proc = subprocess.run(f"{command[0]} -p no:cacheprovider --results-json {results}", shell=True,
                          cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    data = json.loads(Path(results).read_text())
    validate_results(data)
    return data, proc.stdout


def test_layout(files):
    for need in ("README.md", "requirements.txt", "setup.py", "pyproject.toml",
                 "ConvolutionalNetworks.ipynb", "cs260/layers.py", "cs260/classifiers/cnn.py",
                 "cs260/im2col_cython.pyx", "cs260/datasets/get_datasets.sh",
                 f"{release.TRUSTED_IN_BUNDLE}/layers.py",
                 f"{release.TRUSTED_IN_BUNDLE}/im2col_cython.pyx", "grader/conftest.py",
                 "grader/plugin.py", "grader/sandbox/trusted.py"):
        assert need in files, need
    assert any(n.startswith("fixtures/public/") for n in files)
    assert not any(n.startswith(("solution/", "starter/", "tests/")) for n in files)
    assert not any(n.endswith((".so", ".pyc", ".c")) for n in files)
    # the student's cs260 and the grader's trusted copy are both the starter
    for rel, path in release.tree_files(REPO / "starter" / "cs260").items():
        assert files[f"cs260/{rel}"] == path.read_bytes() == files[
            f"{release.TRUSTED_IN_BUNDLE}/{rel}"]


def test_no_hidden_fixture(files):
    hidden = {p.name: p.read_bytes() for p in HIDDEN.rglob("*") if p.is_file()}
    assert hidden
    for rel, data in files.items():
        assert "hidden/" not in rel, rel
        assert Path(rel).name not in hidden or data != hidden[Path(rel).name], rel
        assert data not in hidden.values(), rel


def hidden_cases():
    from grader import cases
    found = [c for c in cases.CASES if c.visibility == "hidden"]
    assert found, "grader/cases_hidden.py defines no hidden case"
    return found


def test_no_hidden_case_is_named(files):
    """No file of the bundle names a hidden case: not its id, its name or its seed (searched here
    independently of grader.tools.release's check); the hidden checks' points may be shown."""
    assert "grader/cases.py" in files and f"grader/{release.HIDDEN_CASES_FILE}" not in files
    texts = {rel: data.decode("utf-8", "replace") for rel, data in files.items()}
    for case in hidden_cases():
        for rel, text in texts.items():
            assert case.id not in text, f"{rel} names {case.id}"
            assert case.id.split(".", 1)[1] not in text, f"{rel} names {case.id}"
            assert not re.search(rf"(?<!\d){case.rng_seed}(?!\d)", text), f"{rel}: seed of {case.id}"
    manifest = json.loads(files["fixtures/manifest.json"])
    assert manifest["cases"] and all(e["visibility"] == "public" for e in manifest["cases"].values())


def test_cases_py_itself_defines_public_cases_only():
    """Hidden cases belong in grader/cases_hidden.py; one written into grader/cases.py would reach
    every student (the release refuses to build then)."""
    text = (REPO / "grader" / "cases.py").read_bytes()
    assert release.find_hidden_case_mentions({"grader/cases.py": text}) == []


def test_release_refuses_a_bundle_that_names_a_hidden_case(tmp_path, monkeypatch):
    case = hidden_cases()[0]
    real = release.bundle_entries
    for leak in (f'CASE = "{case.id}"\n', f"SEED = {case.rng_seed}\n",
                 (REPO / "grader" / release.HIDDEN_CASES_FILE).read_text()):
        monkeypatch.setattr(release, "bundle_entries",
                            lambda images_dir=None, leak=leak: {**real(images_dir),
                                                                "grader/extra.py": leak.encode()})
        out = tmp_path / f"r{len(leak)}.zip"
        with pytest.raises(RuntimeError, match=r"grader/extra.py: names the (hidden case|seed)"):
            release.build_release(out)
        assert not out.exists()
    problems = release.find_hidden_case_mentions(
        {"a.txt": f"see {case.id}".encode(), "b.py": b"nothing here", "c.npz": b"\xff\xfe"})
    assert len(problems) == 1 and problems[0].startswith("a.txt: names the hidden case id")


def test_fixtures_regen_and_check_work_in_the_release(tmp_path):
    """In the release tree (public cases only) `python -m grader fixtures check` and `regen`
    cover the public cases, given a solution (students have none; staff may test with one)."""
    folder = release.build_release(tmp_path / "rel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CS260_TRUSTED_STARTER")}
    check = subprocess.run([sys.executable, "-m", "grader", "fixtures", "check", "--solution",
                            str(SOLUTION.parent)], cwd=folder, env=env, capture_output=True,
                           text=True, timeout=600)
    assert check.returncode == 0 and "fixtures are up to date" in check.stdout, (
        check.stdout[-3000:] + check.stderr[-3000:])
    regen = subprocess.run([sys.executable, "-m", "grader", "fixtures", "regen", "--solution",
                            str(SOLUTION.parent), "--dest", str(tmp_path / "fresh")], cwd=folder,
                           env=env, capture_output=True, text=True, timeout=600)
    assert regen.returncode == 0, regen.stdout[-3000:] + regen.stderr[-3000:]
    fresh = json.loads((tmp_path / "fresh" / "manifest.json").read_text())
    assert set(fresh["cases"]) == set(json.loads((folder / "fixtures/manifest.json").read_text())["cases"])
    assert not (tmp_path / "fresh" / "hidden").exists()


def test_no_solution_code(files):
    """No solution marker, and none of the solution blocks' distinctive lines (those that occur
    nowhere in the starter) in any file, notebook included."""
    distinctive = distinctive_solution_lines()
    assert len(distinctive) > 20
    for rel, data in files.items():
        text = data.decode("utf-8", "replace")
        assert not re.search(r"^\s*### BEGIN SOLUTION\s*$", text, flags=re.M), rel
        if rel.endswith(".ipynb"):
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
        leaked = distinctive & {line.strip() for line in text.splitlines()}
        assert not leaked, f"{rel}: {sorted(leaked)[:3]}"


def test_leak_check_catches_solution_code():
    assert release.find_solution_leaks({"cs260/layers.py": (SOLUTION / "layers.py").read_bytes()})
    unmarked = re.sub(r"### (BEGIN|END) SOLUTION", "", (SOLUTION / "layers.py").read_text())
    problems = release.find_solution_leaks({"x/y.py": unmarked.encode()})
    assert problems and "holds solution code" in problems[0]
    assert not release.find_solution_leaks(
        {"cs260/layers.py": (REPO / "starter" / "cs260" / "layers.py").read_bytes()})


def test_release_into_folder_and_images(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    (images / "kitten.jpg").write_bytes(b"not really a jpeg")
    out = release.build_release(tmp_path / "rel", images_dir=images)
    assert (out / "cs260" / "notebook_images" / "kitten.jpg").read_bytes() == b"not really a jpeg"
    assert (out / "README.md").is_file() and not (out / "cs260" / "notebook_images" / "puppy.jpg").exists()
    with pytest.raises(FileExistsError):
        release.build_release(tmp_path / "rel")


def test_installed_extension(installed):
    folder, env = installed
    assert list((folder / "cs260").glob("im2col_cython*.so"))
    assert list((folder / release.TRUSTED_IN_BUNDLE).glob("im2col_cython*.so"))


def test_starter_scores_zero_with_messages(installed, tmp_path):
    folder, env = installed
    results, out = student_grade(folder, env, tmp_path / "r.json")
    assert results["tests"] and results["score"] == 0
    assert all(t["score"] == 0 for t in results["tests"])
    assert "not implemented" in out
    failed = [t for t in results["tests"] if t.get("status") == "failed"]
    assert failed and all(t.get("output", "").strip() for t in failed)


def with_solution_files(folder, name):
    """A copy of the installed release beside it, with the solution's two student files."""
    student = folder.parent / name
    subprocess.run(["cp", "-a", str(folder), str(student)], check=True)
    (student / "cs260" / "layers.py").write_bytes((SOLUTION / "layers.py").read_bytes())
    (student / "cs260" / "classifiers" / "cnn.py").write_bytes(
        (SOLUTION / "classifiers" / "cnn.py").read_bytes())
    return student


def test_solution_files_score_everything_that_runs(installed, tmp_path):
    folder, env = installed
    student = with_solution_files(folder, "student_copy")
    results, out = student_grade(student, env, tmp_path / "r.json")
    failed = [t["name"] for t in results["tests"] if t.get("status") == "failed"]
    assert not failed, failed
    possible = sum(t["max_score"] for t in results["tests"])
    assert results["score"] == pytest.approx(possible, abs=0.01) and possible > 0
    # Out of 100: what is not counted here are the hidden checks (their cases are not in the
    # release) and the CIFAR-10 checks skipped without the data.
    hidden = sum(points for key, (_, points) in config.CHECKS.items() if key.endswith(".hidden"))
    skipped = re.search(r"([\d.]+) points skipped", out)
    skipped = float(skipped.group(1)) if skipped else 0.0
    assert possible + hidden + skipped == pytest.approx(100, abs=0.01)
    assert f"The hidden checks ({hidden:g} points) are not in this copy" in out
    assert skipped == 0 or "CIFAR-10 not found" in out
    # the compiled extension is what the grader's trusted copy and the student's code use
    assert "im2col_cython is not available" not in out


def test_installed_with_the_python_asked_for(installed):
    """With CS260_RELEASE_PYTHON the bundle was installed with that interpreter, in a folder
    whose path has a space."""
    folder, env = installed
    assert " " in str(folder)
    python = os.environ.get(RELEASE_PYTHON_ENV)
    if python:
        want = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"],
                              capture_output=True, text=True, check=True).stdout
        got = subprocess.run(["python", "-c", "import sys; print(sys.version_info[:2])"],
                             env=env, cwd=folder, capture_output=True, text=True,
                             check=True).stdout
        assert got == want


def colab_cell():
    """The notebook's Colab cell: the first code cell."""
    nb = json.loads(release.NOTEBOOK.read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    return "".join(cell["source"])


def test_colab_cell_does_nothing_off_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    monkeypatch.setattr(os, "chdir", lambda path: ran.append(path))
    exec(compile(colab_cell(), "<colab cell>", "exec"), {})
    assert ran == []


def test_colab_cell_mounts_enters_the_folder_and_runs_the_readme_install(monkeypatch):
    """On Colab (google.colab imported): Drive mounted, the folder under "My Drive" entered,
    the README's two install commands run with the kernel's Python, cs260 importable at once."""
    import types
    done = []
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=lambda where: done.append(("mount", where)))
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(os, "chdir", lambda path: done.append(("cd", path)))
    monkeypatch.setattr(os, "getcwd", lambda: "/content/drive/My Drive/cs260_homework")
    monkeypatch.setattr(subprocess, "run", lambda cmd, **k: done.append(("run", cmd, k)))
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(compile(colab_cell(), "<colab cell>", "exec"), {})
    assert done[0] == ("mount", "/content/drive")
    assert done[1] == ("cd", "/content/drive/My Drive/cs260_homework")
    install = readme_blocks(release.README)[0]
    runs = [step for step in done if step[0] == "run"]
    assert [" ".join(["python", *cmd[1:]]) for _, cmd, _ in runs] == install
    assert all(cmd[0] == sys.executable and k.get("check") for _, cmd, k in runs)
    assert sys.path[0] == "/content/drive/My Drive/cs260_homework"


def test_one_install_instruction_everywhere():
    """The release README's install commands are the ones the notebook and docs/STUDENTS.md
    give; no other way of building is offered."""
    install = readme_blocks(release.README)[0]
    assert install == ["python -m pip install -r requirements.txt",
                       "python setup.py build_ext --inplace"]
    students = (REPO / "docs" / "STUDENTS.md").read_text()
    notebook = release.NOTEBOOK.read_text()
    for text in (release.README, release.SETUP_PY, students, notebook):
        assert "no-build-isolation" not in text
    assert all(command in students for command in install)
    nb_text = " ".join("".join(c["source"]) for c in json.loads(notebook)["cells"])
    assert "python setup.py build_ext --inplace" in " ".join(nb_text.split())


def test_installed_numpy_is_the_pin(installed):
    """The README's install gives the student the numpy Gradescope grades with (grader/pins.txt),
    on the Python it was installed with, and the grader's output says nothing about a mismatch."""
    from grader import environment
    folder, env = installed
    got = subprocess.run(["python", "-c", "import sys, numpy; print('%d.%d' % sys.version_info[:2],"
                          " numpy.__version__)"], env=env, cwd=folder, capture_output=True,
                         text=True, check=True).stdout.split()
    assert got[1] == environment.pinned_version("numpy", python=got[0]) == \
        environment.gradescope_numpy(), got


# nbclient + ipykernel run the notebook as Jupyter does (magics, !shell lines, the kernel's own
# process); the in-process exec of tests/test_notebook.py cannot show a cell that fails only there.
NOTEBOOK_KERNEL_DEPS = ("nbclient", "ipykernel", "matplotlib")
RUN_NOTEBOOK = r'''
import json, sys, time, nbformat
from datetime import datetime
from nbclient import NotebookClient
path, folder, skip, only_checks, report = sys.argv[1:6]
nb = nbformat.read(path, as_version=4)
nbformat.validate(nb)  # cell ids included (nbformat 4.5)
skip = set(skip.split(","))
nb.cells = [c for c in nb.cells if not skip & set(c.metadata.get("tags", []))]
if only_checks == "1":   # the set-up cells, then only the check cells
    code = [c for c in nb.cells if c.cell_type == "code"]
    nb.cells = code[:2] + [c for c in code[2:] if "check" in c.metadata.get("tags", [])]
start = time.monotonic()
NotebookClient(nb, timeout=900, kernel_name="python3", record_timing=True,
               resources={"metadata": {"path": folder}}).execute()
checks = []
for c in nb.cells:
    if "check" not in c.metadata.get("tags", []):
        continue
    shown = [o for o in c.outputs if o.get("output_type") == "execute_result"]
    t = c.metadata.get("execution", {})
    took = (datetime.fromisoformat(t["shell.execute_reply"].replace("Z", "+00:00"))
            - datetime.fromisoformat(t["iopub.execute_input"].replace("Z", "+00:00")))
    checks.append({"source": c.source, "seconds": took.total_seconds(),
                   "text": shown[0]["data"].get("text/plain", "") if shown else "",
                   "html": shown[0]["data"].get("text/html", "") if shown else ""})
json.dump(checks, open(report, "w"))
print(f"{sum(c.cell_type == 'code' for c in nb.cells)} code cells in "
      f"{time.monotonic() - start:.0f} s, no errors")
'''


def run_notebook(student, env, skip, tmp, only_checks=False):
    # The release's notebook in a real kernel in `student`; the check cells' outputs and times.
    report_path = tmp / "checks.json"
    proc = subprocess.run(["python", "-c", RUN_NOTEBOOK, str(student / release.NOTEBOOK.name),
                           str(student), ",".join(skip), "1" if only_checks else "0",
                           str(report_path)], env=env, cwd=student, capture_output=True,
                          text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    print(proc.stdout.strip())
    return json.loads(report_path.read_text())


def check_cells():
    # How many check cells the notebook has (one per graded exercise).
    nb = json.loads(release.NOTEBOOK.read_text())
    return sum("check" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])


def check_name(cell):
    return re.search(r'check\("(\w+)"\)', cell["source"]).group(1)


def time_note(label, checks):
    # The closing note: the time each check cell took.
    times = ", ".join(f"{check_name(c)} {c['seconds']:.1f} s" for c in checks)
    print(f"{label}: {len(checks)} check cells, {sum(c['seconds'] for c in checks):.0f} s "
          f"({times})")


@pytest.fixture(scope="module")
def kernel_env(installed):
    # The installed release with nbclient + ipykernel in its venv (the student leg only).
    if not os.environ.get(RELEASE_PYTHON_ENV):
        pytest.skip(f"needs {RELEASE_PYTHON_ENV} (a fresh student venv that may download "
                    "Jupyter): `.ci/run student` runs it")
    folder, env = installed
    subprocess.run(["python", "-m", "pip", "install", "-q", *NOTEBOOK_KERNEL_DEPS], env=env,
                   check=True, timeout=900)
    return folder, env


def test_notebook_runs_in_a_jupyter_kernel(kernel_env, tmp_path):
    # The release's notebook, top to bottom in a real Jupyter kernel (nbclient + ipykernel in
    # the student's venv, the pinned numpy) on the solution's two files: no cell raises, and
    # every check cell says its function passes. Runs in the student leg (it downloads Jupyter);
    # full-training cells are left out (tests/test_notebook.py runs them under -m slow), and
    # the CIFAR-10 cells too when the data is absent.
    folder, env = kernel_env
    student = with_solution_files(folder, "notebook_copy")
    skip = ["slow"]
    cifar = Path(os.environ.get("CS260_DATA_DIR", "/nonexistent"), "cifar-10-batches-py")
    if cifar.is_dir():   # where the notebook's download cell finds it already there
        (student / "cs260" / "datasets" / "cifar-10-batches-py").symlink_to(cifar)
    else:
        skip.append("requires_cifar")
    checks = run_notebook(student, env, skip, tmp_path)
    assert len(checks) == check_cells() == 11
    for cell in checks:
        first = cell["text"].splitlines()[0]
        assert re.match(rf"check\('{check_name(cell)}'\): [\d.]+ / [\d.]+ points, all \d+ "
                        r"check\(s\) pass", first), cell["text"]
        assert "&#10004;" in cell["html"]
    time_note("solution", checks)


def test_notebook_check_cells_on_the_starter_say_what_is_not_implemented(kernel_env, tmp_path):
    folder, env = kernel_env
    checks = run_notebook(folder, env, ["slow", "requires_cifar"], tmp_path, only_checks=True)
    assert len(checks) == check_cells() == 11
    for cell in checks:
        lines = cell["text"].splitlines()
        assert "not implemented yet" in lines[0], cell["text"]
        assert lines[1].startswith("  fix first: ") and "not implemented" in lines[1]
    time_note("starter", checks)


def test_notebook_check_cell_of_a_planted_bug_shows_its_pointer(kernel_env, tmp_path):
    folder, env = kernel_env
    student = with_solution_files(folder, "bug_copy")
    layers = student / "cs260" / "layers.py"
    right = "dx[:, :, top:top + ph, left:left + pw] += routed"
    assert right in layers.read_text()
    layers.write_text(layers.read_text().replace(right, right.replace("+=", "=")))
    checks = run_notebook(student, env, ["slow", "requires_cifar"], tmp_path, only_checks=True)
    bad = [c for c in checks if "pass" not in c["text"].splitlines()[0]]
    assert [check_name(c) for c in bad] == ["max_pool_backward_naive"], [c["text"] for c in bad]
    text = bad[0]["text"]
    assert "fix first: where windows overlap" in text and "The first failure in full" in text
    assert "fix first:" in bad[0]["html"].replace("<b>Fix first:</b>", "fix first:")
    time_note("planted bug", checks)
