"""Finding the student's files in a submission and overlaying them on the trusted starter."""
import os
import zipfile

import pytest

from grader import config
from grader.sandbox.loader import load_submission

STUB = 'def conv_forward_naive(x, w, b, conv_param):\n    raise NotImplementedError("stub")\n'
LAYERS = "def conv_forward_naive(x, w, b, conv_param):\n    return 'student layers'\n"
CNN = "class ThreeLayerConvNet:\n    pass  # student cnn\n"


@pytest.fixture
def starter(tmp_path):
    """A fake trusted starter package with stubs and a 'compiled' extension."""
    pkg = tmp_path / "starter" / "cs260"
    (pkg / "classifiers").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "layers.py").write_text(STUB)
    (pkg / "fast_layers.py").write_text("from .layers import *\n")
    (pkg / "im2col_cython.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF fake")
    (pkg / "classifiers" / "__init__.py").write_text("")
    (pkg / "classifiers" / "cnn.py").write_text("class ThreeLayerConvNet:\n    pass  # stub\n")
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "junk.pyc").write_bytes(b"junk")
    return pkg


def write_files(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    return root


def make_zip(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for rel, text in files.items():
            zf.writestr(rel, text)
    return path


def load(tmp_path, submission, starter):
    return load_submission(submission, tmp_path / "work", trusted_root=starter)


def overlay_text(sub, place):
    return (sub.root / place).read_text()


def assert_both_used(sub):
    assert sub.problems == {}, sub.problems
    assert overlay_text(sub, "cs260/layers.py") == LAYERS
    assert overlay_text(sub, "cs260/classifiers/cnn.py") == CNN
    assert sub.usable == list(config.STUDENT_FILES)


PACKAGE_LAYOUT = {"hw/cs260/layers.py": LAYERS, "hw/cs260/classifiers/cnn.py": CNN,
                  "hw/cs260/fast_layers.py": "raise SystemExit  # student edits are ignored",
                  "hw/notebook.ipynb": "{}"}
LOOSE_LAYOUT = {"deep/er/layers.py": LAYERS, "cnn.py": CNN, ".hidden/layers.py": "x = 1\n",
                "__MACOSX/deep/er/._layers.py": b"\x00\x05\x16\x07"}


def test_folder_with_package_at_depth(tmp_path, starter):
    sub = load(tmp_path, write_files(tmp_path / "sub", PACKAGE_LAYOUT), starter)
    assert_both_used(sub)
    assert sub.files["layers.py"] == tmp_path / "sub/hw/cs260/layers.py"
    # Everything but the student files comes from the trusted starter, .so included.
    assert overlay_text(sub, "cs260/fast_layers.py") == "from .layers import *\n"
    assert (sub.root / "cs260/im2col_cython.cpython-311-x86_64-linux-gnu.so").is_file()
    assert not (sub.root / "cs260/__pycache__").exists()


def test_loose_files_at_any_depth(tmp_path, starter):
    sub = load(tmp_path, write_files(tmp_path / "sub", LOOSE_LAYOUT), starter)
    assert_both_used(sub)
    assert not any(".hidden" in p or "__MACOSX" in p for p in sub.found)


@pytest.mark.parametrize("layout", [PACKAGE_LAYOUT, LOOSE_LAYOUT])
def test_zip_of_either_layout(tmp_path, starter, layout):
    sub = load(tmp_path, make_zip(tmp_path / "submission.zip", layout), starter)
    assert_both_used(sub)


def test_zip_inside_a_folder_is_opened(tmp_path, starter):
    folder = tmp_path / "sub"
    folder.mkdir()
    make_zip(folder / "hw.zip", PACKAGE_LAYOUT)
    sub = load(tmp_path, folder, starter)
    assert_both_used(sub)


def test_preferred_candidate_and_note(tmp_path, starter):
    files = {"old/layers.py": "x = 'old'\n", "a/b/cs260/layers.py": LAYERS, "cnn.py": CNN,
             "a/b/cs260/classifiers/cnn.py": CNN}
    sub = load(tmp_path, write_files(tmp_path / "sub", files), starter)
    assert_both_used(sub)
    assert any("Several files named layers.py" in n and "old/layers.py" in n for n in sub.notes)


def test_shallowest_candidate_without_package_layout(tmp_path, starter):
    files = {"x/y/layers.py": "x = 'deep'\n", "z/layers.py": LAYERS, "cnn.py": CNN}
    sub = load(tmp_path, write_files(tmp_path / "sub", files), starter)
    assert_both_used(sub)


@pytest.mark.parametrize("member", ["../evil.py", "sub/../../evil.py", "/abs/evil.py",
                                    "sub\\..\\..\\evil.py"])
def test_zip_slip_rejected(tmp_path, starter, member):
    files = dict(PACKAGE_LAYOUT)
    files[member] = "print('escaped')\n"
    sub = load(tmp_path, make_zip(tmp_path / "submission.zip", files), starter)
    assert set(sub.problems) == set(config.STUDENT_FILES)  # the whole archive is refused
    assert any("rejected" in n for n in sub.notes)
    assert not list(tmp_path.rglob("evil.py"))


def test_zip_symlink_rejected(tmp_path, starter):
    path = make_zip(tmp_path / "submission.zip", PACKAGE_LAYOUT)
    with zipfile.ZipFile(path, "a") as zf:
        info = zipfile.ZipInfo("link.py")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    sub = load(tmp_path, path, starter)
    assert any("symbolic link" in n for n in sub.notes)
    assert sub.problems


def test_zip_bomb_rejected(tmp_path, starter, monkeypatch):
    monkeypatch.setattr(config, "SUBMISSION_MAX_BYTES", 10_000)
    path = tmp_path / "submission.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("layers.py", LAYERS)
        zf.writestr("big.bin", b"\0" * 100_000)
    sub = load(tmp_path, path, starter)
    assert any("larger than" in n for n in sub.notes)
    assert "layers.py" in sub.problems


def test_symlinked_file_in_folder_is_ignored(tmp_path, starter):
    folder = write_files(tmp_path / "sub", {"cnn.py": CNN})
    secret = write_files(tmp_path, {"secret.py": LAYERS}) / "secret.py"
    os.symlink(secret, folder / "layers.py")
    sub = load(tmp_path, folder, starter)
    assert "layers.py" in sub.problems and "not found" in sub.problems["layers.py"]
    assert overlay_text(sub, "cs260/layers.py") == STUB


def test_missing_file_message(tmp_path, starter):
    sub = load(tmp_path, write_files(tmp_path / "sub", {"cnn.py": CNN, "readme.txt": "hi"}),
               starter)
    msg = sub.problems["layers.py"]
    assert msg.startswith("layers.py not found in the submission; expected layers.py and cnn.py "
                          "(cs260/layers.py, cs260/classifiers/cnn.py); found: ")
    assert "cnn.py" in msg and "readme.txt" in msg
    assert overlay_text(sub, "cs260/layers.py") == STUB
    assert overlay_text(sub, "cs260/classifiers/cnn.py") == CNN
    assert sub.usable == ["cnn.py"]


def test_found_list_is_capped(tmp_path, starter):
    files = {f"f{i:02d}.txt": "x" for i in range(30)}
    sub = load(tmp_path, write_files(tmp_path / "sub", files), starter)
    assert "and 10 more" in sub.problems["cnn.py"]


@pytest.mark.parametrize("content, expected", [
    ("def f(:\n    pass\n", "layers.py has a syntax error at line 1"),
    ("x = 1\n\n\nif x\n    y = 2\n", "layers.py has a syntax error at line 4"),
    (b"x = '\xff\xfe'\n", "layers.py is not UTF-8"),
    ("   \n\n", "layers.py is empty"),
    ("x = 1\0\n", "layers.py"),
])
def test_bad_student_file_replaced_by_stub(tmp_path, starter, content, expected):
    sub = load(tmp_path, write_files(tmp_path / "sub", {"layers.py": content, "cnn.py": CNN}),
               starter)
    assert sub.problems["layers.py"].startswith(expected)
    assert overlay_text(sub, "cs260/layers.py") == STUB
    assert overlay_text(sub, "cs260/classifiers/cnn.py") == CNN


def test_too_large_file(tmp_path, starter, monkeypatch):
    monkeypatch.setattr(config, "STUDENT_FILE_MAX_BYTES", 100)
    sub = load(tmp_path, write_files(tmp_path / "sub", {"layers.py": "#" * 200 + "\n",
                                                       "cnn.py": CNN}), starter)
    assert "too large" in sub.problems["layers.py"]


def test_empty_submission_summary(tmp_path, starter):
    (tmp_path / "sub").mkdir()
    sub = load(tmp_path, tmp_path / "sub", starter)
    assert sub.usable == [] and set(sub.problems) == {"layers.py", "cnn.py"}
    summary = sub.summary()
    assert "Expected layers.py and cnn.py (cs260/layers.py, cs260/classifiers/cnn.py)" in summary
    assert "found: no files" in summary
    assert "\n" not in summary


def test_summary_lists_found_files(tmp_path, starter):
    sub = load(tmp_path, write_files(tmp_path / "sub", {"hw3.ipynb": "{}", "lyrs.py": "x=1\n"}),
               starter)
    assert "found: hw3.ipynb, lyrs.py" in sub.summary()


def test_not_a_zip_and_missing_path(tmp_path, starter):
    bogus = tmp_path / "submission.zip"
    bogus.write_text("not a zip")
    assert any("rejected" in n for n in load(tmp_path, bogus, starter).notes)
    sub = load(tmp_path, tmp_path / "nowhere", starter)
    assert set(sub.problems) == set(config.STUDENT_FILES)


def test_reloading_replaces_the_previous_overlay(tmp_path, starter):
    load(tmp_path, write_files(tmp_path / "a", {"layers.py": LAYERS, "cnn.py": CNN}), starter)
    sub = load(tmp_path, write_files(tmp_path / "b", {"cnn.py": CNN}), starter)
    assert overlay_text(sub, "cs260/layers.py") == STUB


def test_default_trusted_root_comes_from_env(tmp_path, starter, monkeypatch):
    monkeypatch.setenv("CS260_TRUSTED_STARTER", str(starter))
    sub = load_submission(write_files(tmp_path / "sub", {"layers.py": LAYERS}), tmp_path / "w")
    assert overlay_text(sub, "cs260/fast_layers.py") == "from .layers import *\n"
    monkeypatch.setenv("CS260_TRUSTED_STARTER", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError):
        load_submission(tmp_path / "sub", tmp_path / "w2")


def test_overlay_runs_in_the_worker(tmp_path, starter):
    from grader.sandbox.client import Worker
    sub = load(tmp_path, write_files(tmp_path / "sub", {"layers.py": LAYERS, "cnn.py": CNN}),
               starter)
    with Worker(sub.root, timeout=10) as w:
        assert w.call("layers.conv_forward_naive", 1, 2, 3, {}) == "student layers"
        assert w.call("fast_layers.conv_forward_naive", 1, 2, 3, {}) == "student layers"


def test_real_starter_overlay_and_trusted_fast_layers(tmp_path):
    """Integration with the repo's starter package (skipped until it is generated)."""
    from grader.sandbox import trusted
    from grader.sandbox.client import StudentError, Worker
    root = trusted.trusted_starter_root()
    if not (root / "fast_layers.py").is_file():
        pytest.skip(f"no starter package at {root}")
    import numpy as np
    fast = trusted.fast_layers()
    assert fast.__name__ == "_cs260_trusted.fast_layers"
    x, w, b = np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), np.zeros(1)
    out, _ = fast.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
    assert out[0, 0, 1, 1] == 9.0
    sub = load_submission(tmp_path / "empty", tmp_path / "work")
    with Worker(sub.root, timeout=30) as worker:
        with pytest.raises(StudentError) as info:
            worker.call("layers.conv_forward_naive", x, w, b, {"stride": 1, "pad": 1})
        assert info.value.kind == "not_implemented"
        out2, _ = worker.call("fast_layers.conv_forward_fast", x, w, b, {"stride": 1, "pad": 1})
    np.testing.assert_array_equal(out, out2)
