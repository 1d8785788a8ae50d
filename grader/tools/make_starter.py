"""Generate the students' starter package from the reference solution.

    python -m grader.tools.make_starter            # write starter/cs260 from solution/cs260
    python -m grader.tools.make_starter --check    # only report where starter/ differs

Source files (.py, .pyx, .sh, .md) are copied from solution/cs260 to starter/cs260.
In .py files every exercise region, the lines from `### BEGIN SOLUTION` to
`### END SOLUTION`, becomes one line at the region's indentation:

    raise NotImplementedError("<function>: not implemented yet (see the TODO above)")

where <function> is the enclosing function's qualified name (e.g.
`ThreeLayerConvNet.loss`). Unbalanced or misplaced markers stop the generator
with an error; so do markers in files that are not .py.
"""
import argparse
import ast
import os
import re
import shutil
import sys

from grader import config  # noqa: E402

REPO = str(config.REPO)
SOLUTION_DIR = os.path.join(REPO, "solution", "cs260")
STARTER_DIR = os.path.join(REPO, "starter", "cs260")

SOURCE_EXTENSIONS = (".py", ".pyx", ".sh", ".md")
SKIP_DIRS = {"__pycache__", "cifar-10-batches-py", "build"}
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = 'raise NotImplementedError("{name}: not implemented yet (see the TODO above)")'
_MARKER = re.compile(r"^(\s*)(### (?:BEGIN|END) SOLUTION)\s*$")


class MarkerError(ValueError):
    """The solution's exercise markers are unbalanced or misplaced."""


def source_files(src_dir):
    """Relative paths (with '/') of the files the starter gets, sorted."""
    found = []
    for root, dirs, files in os.walk(src_dir):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in files:
            if name.endswith(SOURCE_EXTENSIONS) and not name.startswith("."):
                rel = os.path.relpath(os.path.join(root, name), src_dir)
                found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def _function_spans(tree):
    """(first line, last line, qualified name) of every function in a parsed module."""
    spans = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                spans.append((child.lineno, child.end_lineno, name))
                visit(child, name + ".<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return spans


def _enclosing_function(spans, lineno):
    """Name of the innermost function containing line lineno, or None."""
    best = None
    for first, last, name in spans:
        if first <= lineno <= last and (best is None or first >= best[0]):
            best = (first, name)
    return best[1] if best else None


def strip_solutions(text, filename="<solution>"):
    """text of a .py file with every marked region replaced by its NotImplementedError stub."""
    try:
        spans = _function_spans(ast.parse(text, filename=filename))
    except SyntaxError as exc:
        raise MarkerError(f"{filename}: does not parse: {exc}") from None

    out = []
    open_at = None  # (line number, indentation) of the BEGIN marker of the open region
    for lineno, line in enumerate(text.splitlines(keepends=True), start=1):
        match = _MARKER.match(line.rstrip("\r\n"))
        if match is None:
            if open_at is None:
                out.append(line)
            continue
        indent, marker = match.groups()
        if marker == BEGIN:
            if open_at is not None:
                raise MarkerError(f"{filename}:{lineno}: {BEGIN} inside the region opened at line {open_at[0]}")
            name = _enclosing_function(spans, lineno)
            if name is None:
                raise MarkerError(f"{filename}:{lineno}: {BEGIN} outside any function")
            open_at = (lineno, indent)
            newline = line[len(line.rstrip("\r\n")):] or "\n"
            out.append(indent + STUB.format(name=name) + newline)
        else:
            if open_at is None:
                raise MarkerError(f"{filename}:{lineno}: {END} without a {BEGIN} before it")
            if indent != open_at[1]:
                raise MarkerError(
                    f"{filename}:{lineno}: {END} is indented differently from the {BEGIN} "
                    f"at line {open_at[0]}"
                )
            open_at = None
    if open_at is not None:
        raise MarkerError(f"{filename}:{open_at[0]}: {BEGIN} is never closed by {END}")

    result = "".join(out)
    try:
        ast.parse(result, filename=filename)
    except SyntaxError as exc:
        raise MarkerError(f"{filename}: the generated starter does not parse: {exc}") from None
    return result


def render(src_dir):
    """The starter package as a dict: relative path -> file content (str)."""
    files = {}
    for rel in source_files(src_dir):
        path = os.path.join(src_dir, rel)
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
        if rel.endswith(".py"):
            text = strip_solutions(text, filename=path)
        elif BEGIN in text or END in text:
            raise MarkerError(f"{path}: solution markers are only supported in .py files")
        files[rel] = text
    return files


def generate(src_dir=SOLUTION_DIR, dst_dir=STARTER_DIR):
    """Write the starter generated from src_dir into dst_dir; return the relative paths written.

    Source files in dst_dir that the solution no longer has are deleted; build
    products (.so, .c, __pycache__) are left alone.
    """
    files = render(src_dir)
    for rel, text in files.items():
        dst = os.path.join(dst_dir, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        shutil.copymode(os.path.join(src_dir, rel), dst)
    if os.path.isdir(dst_dir):
        for rel in source_files(dst_dir):
            if rel not in files:
                os.remove(os.path.join(dst_dir, rel))
    return sorted(files)


def check(src_dir=SOLUTION_DIR, dst_dir=STARTER_DIR):
    """Differences between dst_dir and the starter generated from src_dir (empty list: none)."""
    expected = render(src_dir)
    present = set(source_files(dst_dir)) if os.path.isdir(dst_dir) else set()
    problems = []
    for rel in sorted(set(expected) | present):
        if rel not in present:
            problems.append(f"missing: {rel}")
            continue
        if rel not in expected:
            problems.append(f"not in the solution: {rel}")
            continue
        path = os.path.join(dst_dir, rel)
        with open(path, encoding="utf-8", newline="") as f:
            actual = f.read()
        if actual != expected[rel]:
            want, have = expected[rel].splitlines(), actual.splitlines()
            line = next(
                (i + 1 for i, (a, b) in enumerate(zip(want, have)) if a != b),
                min(len(want), len(have)) + 1,
            )
            problems.append(f"differs: {rel} (first at line {line})")
        elif os.access(path, os.X_OK) != os.access(os.path.join(src_dir, rel), os.X_OK):
            problems.append(f"executable bit differs: {rel}")
    return problems


def main(argv=None):
    """`python -m grader.tools.make_starter`: generate starter/ (or --check it); the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m grader.tools.make_starter",
        description="Generate starter/cs260 from solution/cs260 (exercise bodies -> NotImplementedError).",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser):
    """The options of make-starter (also `python -m grader make-starter`)."""
    parser.add_argument("--check", action="store_true", help="only report differences; exit 1 if any")
    parser.add_argument("--src", default=SOLUTION_DIR, help="solution package folder (default: %(default)s)")
    parser.add_argument("--dst", default=STARTER_DIR, help="starter package folder (default: %(default)s)")


def run(args):
    """Generate or check starter/ as `args` say; the exit status (1: out of date, 2: bad markers)."""
    try:
        if args.check:
            problems = check(args.src, args.dst)
            for problem in problems:
                print(problem)
            if problems:
                print("starter is out of date: run `python -m grader make-starter`", file=sys.stderr)
                return 1
            print("starter is up to date")
            return 0
        written = generate(args.src, args.dst)
    except MarkerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files to {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
