"""Find the student's files in a submission and overlay them on a trusted copy of the starter.

A submission is a folder holding a cs260/ package (at any depth), a folder of loose files
(Gradescope's /autograder/submission), or a .zip of either. Only the files students edit
(config.STUDENT_FILES) are taken; everything else comes from the trusted starter package.
Problems with the submission are recorded per student file, never raised: a file with a
problem is replaced by the starter's stub so the other modules still import.
"""
import os
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader import config
from grader.sandbox.naive import build_naive_overlay
from grader.sandbox.trusted import trusted_starter_root

FOUND_LIST_LIMIT = 20
IGNORED_DIRS = {"__MACOSX", "__pycache__"}
MAX_ZIPS_IN_FOLDER = 3


@dataclass
class Submission:
    """The overlay to run and what was found on the way."""

    root: Path                                   # put on the worker's sys.path (holds cs260/)
    files: dict = field(default_factory=dict)    # student file name -> original path or None
    problems: dict = field(default_factory=dict)  # student file name -> message
    notes: list = field(default_factory=list)
    found: list = field(default_factory=list)    # files seen in the submission (relative)
    sources: dict = field(default_factory=dict)  # student file name -> path in the submission
    naive_root: Path = None                      # the same without working fast code (naive.py)

    @property
    def usable(self):
        """Student files that were found and had no problem."""
        return [name for name, path in self.files.items()
                if path is not None and name not in self.problems]

    def summary(self):
        """One paragraph: expected vs found files, problems and notes."""
        complete = all(self.files.get(n) is not None and n not in self.problems
                       for n in config.STUDENT_FILES)
        # The whole file list only helps when something is missing or broken.
        parts = [] if complete else [f"Expected {_expected_text()}; {_found_text(self.found)}."]
        for name in config.STUDENT_FILES:
            if self.files.get(name) is None:
                parts.append(f"{name}: not found.")
            elif name in self.problems:
                parts.append(self.problems[name])
            else:
                parts.append(f"{name}: using {self.sources.get(name, name)}.")
        parts += self.notes
        return " ".join(parts)


def _expected_text():
    names = list(config.STUDENT_FILES)
    places = ", ".join(config.STUDENT_FILES.values())
    return f"{' and '.join(names)} ({places})"


def _found_text(found):
    if not found:
        return "found: no files"
    shown = ", ".join(found[:FOUND_LIST_LIMIT])
    more = f" and {len(found) - FOUND_LIST_LIMIT} more" if len(found) > FOUND_LIST_LIMIT else ""
    return f"found: {shown}{more}"


def _ignored(parts):
    return any(p in IGNORED_DIRS or p.startswith(".") for p in parts)


# ---------------------------------------------------------------------------
# archives
# ---------------------------------------------------------------------------

class UnsafeArchive(Exception):
    """A .zip that is refused as a whole (unsafe paths, too big, not a zip)."""


def _check_member(info):
    """The member's safe relative path parts, or UnsafeArchive."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(f"member {info.filename!r} has an absolute path")
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"member {info.filename!r} points outside the archive")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UnsafeArchive(f"member {info.filename!r} is a symbolic link")
    if info.flag_bits & 0x1:
        raise UnsafeArchive(f"member {info.filename!r} is encrypted")
    return parts


def extract_zip(archive, dest):
    """Safely extract `archive` into `dest` (which must not exist); returns dest.

    Refuses the whole archive on an absolute or '..' path, a symlink, encryption, more than
    SUBMISSION_MAX_FILES entries or more than SUBMISSION_MAX_BYTES uncompressed (counted while
    decompressing, not trusted from the header). __MACOSX/ and dotfiles are skipped.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise UnsafeArchive(f"not a readable zip file ({e})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > config.SUBMISSION_MAX_FILES:
            raise UnsafeArchive(f"it has {len(infos)} entries "
                                f"(limit {config.SUBMISSION_MAX_FILES})")
        members = [(info, _check_member(info)) for info in infos]
        dest.mkdir(parents=True)
        budget = config.SUBMISSION_MAX_BYTES
        for info, parts in members:
            if info.is_dir() or not parts or _ignored(parts):
                continue
            target = dest.joinpath(*parts)
            if target.exists():
                continue  # a duplicate name: keep the first
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while True:
                        chunk = src.read(1 << 16)
                        if not chunk:
                            break
                        budget -= len(chunk)
                        if budget < 0:
                            raise UnsafeArchive(f"it is larger than "
                                                f"{config.SUBMISSION_MAX_BYTES >> 20} MB "
                                                "uncompressed")
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError,
                    EOFError, ValueError) as e:
                raise UnsafeArchive(f"member {info.filename!r} cannot be read ({e})") from None
    return dest


# ---------------------------------------------------------------------------
# finding the student's files
# ---------------------------------------------------------------------------

def _scan(top, notes):
    """Regular files under `top` (relative POSIX paths), skipping symlinks and ignored names."""
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        rel_dir = Path(dirpath).relative_to(top)
        keep = []
        for d in sorted(dirnames):
            if _ignored([d]):
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                notes.append(f"Ignored the symbolic link {(rel_dir / d).as_posix()}.")
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            if _ignored([name]):
                continue
            full = os.path.join(dirpath, name)
            rel = (rel_dir / name).as_posix()
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                notes.append(f"Ignored the symbolic link {rel}.")
                continue
            if stat.S_ISREG(st.st_mode):
                found.append(rel)
            if len(found) >= config.SUBMISSION_MAX_FILES:
                notes.append(f"Stopped looking after {len(found)} files.")
                return found
    return found


def _choose(name, preferred, candidates, notes):
    """Pick one of several files called `name`: the one at .../<preferred>, else the shallowest."""
    if not candidates:
        return None
    ranked = sorted(candidates, key=lambda p: (not ("/" + p).endswith("/" + preferred),
                                               p.count("/"), p))
    if len(candidates) > 1:
        others = ", ".join(p for p in ranked[1:][:5])
        notes.append(f"Several files named {name}; used {ranked[0]} (ignored: {others}).")
    return ranked[0]


def _validate(name, path):
    """(source bytes, None) or (None, problem message) for one student file."""
    try:
        size = path.stat().st_size
        if size > config.STUDENT_FILE_MAX_BYTES:
            return None, (f"{name} is too large ({size} bytes; limit "
                          f"{config.STUDENT_FILE_MAX_BYTES}).")
        with open(path, "rb") as f:
            data = f.read(config.STUDENT_FILE_MAX_BYTES + 1)
    except OSError as e:
        return None, f"{name} cannot be read ({e.strerror or e})."
    if len(data) > config.STUDENT_FILE_MAX_BYTES:
        return None, f"{name} is too large (limit {config.STUDENT_FILE_MAX_BYTES} bytes)."
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return None, f"{name} is not UTF-8 text (bad byte at offset {e.start})."
    if not text.strip():
        return None, f"{name} is empty."
    try:
        compile(text, name, "exec", dont_inherit=True)  # parses only; runs nothing
    except SyntaxError as e:
        where = f"line {e.lineno}" if e.lineno else "unknown line"
        code = f' in "{e.text.strip()[:80]}"' if e.text and e.text.strip() else ""
        return None, f"{name} has a syntax error at {where}: {e.msg}{code}."
    except (ValueError, RecursionError, MemoryError, OverflowError) as e:
        return None, f"{name} cannot be compiled: {type(e).__name__}: {e}"
    return data, None


def load_submission(path, workdir, *, trusted_root=None):
    """Build the overlay for submission `path` in `workdir`; never raises for bad submissions.

    The overlay is `workdir/overlay/cs260`: a copy of the trusted starter (including compiled
    extensions) with the student's files in their places; `workdir/naive_overlay/cs260` is the
    same with the fast code replaced by stubs (grader/sandbox/naive.py), for the naive layers' checks.
    """
    path = Path(path)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    trusted = _trusted(trusted_root)
    notes = []
    overlay = workdir / "overlay"
    extracted = workdir / "extracted"
    for old in (overlay, extracted):
        if old.exists():
            shutil.rmtree(old)

    top = _open(path, extracted, notes)
    found = _scan(top, notes) if top is not None else []
    base_names = {n: [p for p in found if p.rsplit("/", 1)[-1] == n]
                  for n in config.STUDENT_FILES}
    unpacked = {}  # zip inside the folder -> where it was extracted
    if top is path and not any(base_names.values()):
        unpacked = _unpack_inner_zips(top, found, base_names, extracted, notes)

    shutil.copytree(trusted, overlay / "cs260",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    files, sources, problems = _place_student_files(
        overlay, base_names, found, lambda rel: _real_path(top, unpacked, rel), notes)
    return Submission(root=overlay, files=files, problems=problems, notes=notes, found=found,
                      sources=sources,
                      naive_root=build_naive_overlay(overlay, workdir / "naive_overlay"))


def _trusted(trusted_root):
    """The trusted starter package the overlay copies (given, or grader.sandbox.trusted's)."""
    trusted = Path(trusted_root).resolve() if trusted_root else trusted_starter_root()
    if not (trusted / "__init__.py").is_file():
        raise FileNotFoundError(f"trusted starter package not found at {trusted}")
    return trusted


def _open(path, extracted, notes):
    """The folder to search: the submission folder, or where its zip was extracted (None if
    there is nothing usable)."""
    if path.is_file():
        try:
            top = extract_zip(path, extracted / "0")
            notes.append(f"Extracted {path.name}.")
            return top
        except UnsafeArchive as e:
            notes.append(f"The archive {path.name} was rejected: {e}.")
            return None
    if path.is_dir():
        return path
    notes.append(f"The submission {path} does not exist.")
    return None


def _unpack_inner_zips(top, found, base_names, extracted, notes):
    """Extract the zips of a folder without the student files (uploaded inside a zip that
    Gradescope did not unpack), shallowest first, until one holds them; adds what they hold to
    `found` and `base_names`. Returns {zip: where it was extracted}."""
    unpacked = {}
    zips = [p for p in found if p.lower().endswith(".zip")]
    for i, rel in enumerate(sorted(zips, key=lambda p: (p.count("/"), p))[:MAX_ZIPS_IN_FOLDER]):
        try:
            sub = extract_zip(top / rel, extracted / str(i + 1))
        except UnsafeArchive as e:
            notes.append(f"The archive {rel} was rejected: {e}.")
            continue
        notes.append(f"Extracted {rel}.")
        unpacked[rel] = sub
        inner = [f"{rel}/{p}" for p in _scan(sub, notes)]
        found += inner
        for n in config.STUDENT_FILES:
            base_names[n] += [p for p in inner if p.rsplit("/", 1)[-1] == n]
        if any(base_names.values()):
            break
    return unpacked


def _real_path(top, unpacked, rel):
    """The file on disk of a found path, inside an extracted inner zip or the folder itself."""
    for z, sub in unpacked.items():
        if rel.startswith(z + "/"):
            return sub / rel[len(z) + 1:]
    return top / rel


def _place_student_files(overlay, base_names, found, real_path, notes):
    """Choose each student file among the candidates and copy it into the overlay when it is
    valid; returns (files, sources, problems) as Submission keeps them."""
    files, sources, problems = {}, {}, {}
    for name, place in config.STUDENT_FILES.items():
        chosen = _choose(name, place, base_names[name], notes)
        if chosen is None:
            files[name] = None
            problems[name] = (f"{name} not found in the submission; expected "
                              f"{_expected_text()}; {_found_text(found)}.")
            continue
        source = real_path(chosen)
        files[name] = source
        sources[name] = chosen
        data, problem = _validate(name, source)
        if problem:
            problems[name] = problem
            continue
        with open(overlay / place, "wb") as out:
            out.write(data)
    return files, sources, problems
