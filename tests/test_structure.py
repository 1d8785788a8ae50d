"""The grader's structure, read from its source with ast: no import cycle, each shared option
declared once, every pytest hook and public function documented in a line, short functions.

Nothing is imported or run here: these facts are about the code as written, so a newcomer can
trust the layout docs/ARCHITECTURE.md describes.
"""
import ast


from grading import REPO

GRADER = REPO / "grader"


def grader_modules():
    """{dotted module name: Path} of every module of the grader package (not its _trusted copy)."""
    found = {}
    for path in sorted(GRADER.rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        if "_trusted" in rel.parts:
            continue
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def parse(path):
    return ast.parse(path.read_text(), filename=str(path))


def _package_of(name, path):
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


def imported_modules(name, path, known):
    """The grader modules `name` imports anywhere in its source (function-level imports count:
    they close a cycle just the same when they run)."""
    found = set()
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(name, path).split(".")
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    # Importing a submodule runs its parent packages first (except those `name` is inside: they
    # ran before it, and a package's __init__ importing its own submodules is no cycle).
    edges = set(found)
    for module in found:
        parts = module.split(".")
        edges.update(".".join(parts[:i]) for i in range(1, len(parts)))
    inside = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    return {m for m in edges if m in known and m != name and (m in found or m not in inside)}


# The one import allowed to run back to the package: `from grader import check` (the notebook's
# check cells) is grader/__init__.py importing grader.notebook_check inside check(), when it is
# called, long after the package has loaded: it cannot close a cycle at import time, and the
# package's import stays free of it (so `pytest grader` loads the plugin as before).
LAZY_EDGES = {("grader", "grader.notebook_check")}


def import_graph():
    known = grader_modules()
    graph = {name: imported_modules(name, path, known) for name, path in known.items()}
    for source, target in LAZY_EDGES:
        graph[source].discard(target)
    return graph


def test_the_package_imports_nothing_at_import_time():
    """grader/__init__.py imports no module at its top level (only inside check())."""
    tree = parse(GRADER / "__init__.py")
    assert not [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_import_graph_sees_function_level_and_relative_imports():
    graph = import_graph()
    assert "grader.config" in graph["grader.sandbox.client"]            # from . import config
    assert "grader.sandbox.loader" in graph["grader.plugin"]            # inside a fixture
    assert "grader.tools.release" in graph["grader.tools.gradescope.build"]


def test_grader_has_no_import_cycle():
    found = cycles(import_graph())
    assert found == [], "import cycles in grader/: " + "; ".join(" <-> ".join(c) for c in found)


# ----------------------------------------------------------------------------------------------
# Every shared option declared once (grader/options.py)
# ----------------------------------------------------------------------------------------------

# Flags that name different things in different commands (not one option declared twice).
SAME_FLAG_OTHER_MEANING = {
    "--out": "grade-all's output folder (batch.py) vs the class report's (classreport.py)",
    "--root": "the worker's overlay folder (worker.py) vs Gradescope's /autograder (gradescope/run.py)",
}


def declared_flags():
    """[(flag, "module:line")] of every flag declared with a literal name by add_argument or
    addoption in grader/ (grader/options.py declares through a variable, so it is not here)."""
    found = []
    for name, path in grader_modules().items():
        for node in ast.walk(parse(path)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("add_argument", "addoption")):
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and str(arg.value).startswith("--"):
                        found.append((arg.value, f"{name}:{node.lineno}"))
    return found


def test_flag_finder_sees_literal_declarations():
    flags = dict(declared_flags())
    assert flags["--jobs"].startswith("grader.tools.batch:")        # parser.add_argument("--jobs", ...)
    assert flags["--block-import"].startswith("grader.sandbox.worker:")


def test_shared_options_are_declared_only_in_grader_options():
    from grader import options
    shared = {o.flag for o in options.OPTIONS}
    again = [f"{flag} at {where}" for flag, where in declared_flags() if flag in shared]
    assert again == [], "declare these through grader.options.add: " + ", ".join(again)


def test_no_option_is_declared_twice():
    places = {}
    for flag, where in declared_flags():
        places.setdefault(flag, []).append(where)
    twice = {flag: where for flag, where in places.items()
             if len(where) > 1 and flag not in SAME_FLAG_OTHER_MEANING}
    assert twice == {}, f"declared more than once (move to grader/options.py): {twice}"
    for flag in SAME_FLAG_OTHER_MEANING:
        assert len(places.get(flag, [])) > 1, f"{flag} is declared once now: drop it from the list"


def test_the_pytest_plugin_declares_exactly_the_grading_options():
    from grader import options, plugin

    class Group:
        def __init__(self):
            self.declared = []

        def addoption(self, flag, **kwargs):
            self.declared.append((flag, kwargs["help"]))

    class Parser:
        group = Group()

        def getgroup(self, name, description=""):
            return self.group

    parser = Parser()
    plugin.pytest_addoption(parser)
    assert parser.group.declared == [(o.flag, o.help) for o in options.PYTEST_OPTIONS]


def test_every_entry_point_gives_run_as_the_same_help():
    """`grade`, `grade-all`, `gradescope-zip` and the Gradescope runner parse the shared options
    with the one help text (the runner only changes defaults)."""
    import argparse

    from grader import __main__ as cli
    from grader import options

    def helps(parser):
        return {a.option_strings[0]: a.help for a in parser._actions if a.option_strings}

    commands = next(a for a in cli.build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction)).choices
    for command, flags in (("grade", ("--run-as", "--results-json")),
                           ("grade-all", ("--run-as", "--timeout")),
                           ("gradescope-zip", ("--timeout",))):
        found = helps(commands[command])
        for flag in flags:
            assert found[flag] == next(o.help for o in options.OPTIONS if o.flag == flag), \
                (command, flag)


# ----------------------------------------------------------------------------------------------
# Docstrings: every pytest hook and every public function says what it does and why
# ----------------------------------------------------------------------------------------------

def functions(include_private=False):
    """[(qualified name, ast node)] of the functions and methods of every grader module (methods
    of private classes count as private; nested functions are not listed)."""
    found = []

    def walk(module, nodes, prefix, private):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if include_private or not (private or node.name.startswith("_")):
                    found.append((f"{module}.{prefix}{node.name}", node))
            elif isinstance(node, ast.ClassDef):
                walk(module, node.body, f"{prefix}{node.name}.",
                     private or node.name.startswith("_"))

    for name, path in grader_modules().items():
        walk(name, parse(path).body, "", False)
    return found


def test_every_pytest_hook_has_a_docstring():
    hooks = [(name, node) for name, node in functions(include_private=True)
             if node.name.startswith("pytest_")]
    assert len(hooks) >= 13, [name for name, _ in hooks]
    missing = [name for name, node in hooks if not ast.get_docstring(node)]
    assert missing == [], f"pytest hooks without a docstring: {missing}"


def test_every_public_function_has_a_one_line_summary():
    problems = []
    for name, node in functions():
        doc = ast.get_docstring(node)
        if not doc:
            problems.append(f"{name}: no docstring")
        elif not doc.splitlines()[0].strip():
            problems.append(f"{name}: the docstring's first line is empty")
    assert problems == [], "\n".join(problems)


# ----------------------------------------------------------------------------------------------
# Short functions
# ----------------------------------------------------------------------------------------------

MAX_LINES = 60
# Allowed over MAX_LINES, each with why it reads better whole (none today).
LONG_ALLOWED = {}


def lines_of(node):
    return node.end_lineno - node.lineno + 1


def test_functions_are_short():
    sizes = {name: lines_of(node) for name, node in functions(include_private=True)}
    long = {name: n for name, n in sizes.items() if n > MAX_LINES and name not in LONG_ALLOWED}
    assert long == {}, f"functions over {MAX_LINES} lines (split them where it reads better): {long}"
    gone = [name for name in LONG_ALLOWED if sizes.get(name, 0) <= MAX_LINES]
    assert gone == [], f"short now or gone: drop them from LONG_ALLOWED: {gone}"


# ----------------------------------------------------------------------------------------------
# Rooms and the one-way flow (docs/ARCHITECTURE.md draws them)
# ----------------------------------------------------------------------------------------------

# The rooms in flow order: a module imports only from its own room or an earlier one.
FLOW = ("base", "sandbox", "feedback", "checks", "report", "tools")
REPORT_MODULES = {"grader.plugin", "grader.conftest", "grader.report", "grader.summary",
                  "grader.markdown"}


def room_of(module):
    """The room of a grader module: its subpackage, the report modules, or the base on top."""
    parts = module.split(".")
    if len(parts) > 2 and parts[1] in ("sandbox", "feedback", "checks", "tools"):
        return parts[1]
    if len(parts) == 2 and parts[1] in ("sandbox", "feedback", "checks", "tools"):
        return parts[1]
    if module == "grader.__main__":
        return "tools"
    return "report" if module in REPORT_MODULES else "base"


def backward_imports(graph):
    """(importer, imported) pairs that run against FLOW."""
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if FLOW.index(room_of(b)) > FLOW.index(room_of(a)))


def test_flow_finder_sees_a_backward_import():
    graph = {"grader.sandbox.client": {"grader.feedback.causes", "grader.config"},
             "grader.checks.checking": {"grader.sandbox.client"}}
    assert backward_imports(graph) == [("grader.sandbox.client", "grader.feedback.causes")]
    assert room_of("grader.tools.gradescope.run") == "tools"
    assert room_of("grader.checks") == "checks"


def test_imports_follow_the_flow():
    found = backward_imports(import_graph())
    assert found == [], ("imports against the flow " + " -> ".join(FLOW) + ": "
                         + "; ".join(f"{a} imports {b}" for a, b in found))


def test_check_files_import_no_other_check_file_and_not_the_plugin():
    graph = import_graph()
    checks = [m for m in graph if m.startswith("grader.checks.test_")]
    assert len(checks) >= 10
    bad = [(m, t) for m in checks for t in graph[m]
           if t.startswith("grader.checks.test_") or t in REPORT_MODULES]
    assert bad == [], "check files importing another check file or the plugin: " + str(bad)


def test_architecture_doc_draws_the_flow_in_this_order():
    text = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    assert "rooms, in flow order: " + " -> ".join(FLOW) in text
