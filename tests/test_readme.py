"""The README and docs/ state what the code does: the weights table is grader/config.py's, the
set-up commands are what CI runs, every CI leg is described, every relative link resolves, and
the README stays a short front door."""
import re

from grader import report
from grading import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"
FRONT_DOOR_LINES = 150
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_weights_table_is_the_config_table():
    text = (DOCS / "GRADING.md").read_text()
    match = re.search(r"<!-- weights:begin -->\n(.*?)\n<!-- weights:end -->", text, re.S)
    assert match, "docs/GRADING.md lost its weights markers"
    assert match.group(1) == report.weights_markdown(), \
        "docs/GRADING.md's weights table is stale: paste the output of `python -m grader weights`"


def test_readme_setup_commands_are_what_ci_runs():
    readme = README.read_text()
    ci = (REPO / ".ci" / "run").read_text()
    block = re.search(r"## Set-up.*?```\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    assert len(block) == 2, block
    for command in block:
        assert command in ci, f"CI does not run the README's command: {command}"


def test_testing_page_names_every_ci_leg():
    testing = (DOCS / "TESTING.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    legs = re.search(r"^LEGS=\((.*?)\)$", ci, re.M).group(1).split()
    assert legs[0] == "main" and len(legs) >= 4
    for leg in legs:
        assert f"| `{leg}` |" in testing, f"docs/TESTING.md's table of .ci/run legs lacks {leg}"
        assert f"leg_{leg}()" in ci


def test_readme_is_a_front_door():
    lines = README.read_text().splitlines()
    assert len(lines) <= FRONT_DOOR_LINES, \
        f"README.md has {len(lines)} lines: move details into docs/ (at most {FRONT_DOOR_LINES})"


def slug(heading):
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    """The anchors of a Markdown file's headings (outside fenced code)."""
    found, fenced = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            found.add(slug(line.lstrip("#")))
    return found


def relative_links(path):
    """(target, anchor) of every relative link of a Markdown file (outside fenced code)."""
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        file, _, anchor = target.partition("#")
        yield file, anchor


def test_link_checker_sees_links_and_anchors():
    assert slug(" Set-up (two commands, Python 3.10+, a C compiler)") == \
        "set-up-two-commands-python-310-a-c-compiler"
    links = set(relative_links(README))
    assert ("docs/GRADING.md", "") in links
    assert ("docs/INSTRUCTORS.md", "gradescope") in links


def test_every_relative_link_of_the_readme_and_docs_resolves():
    broken = []
    for page in [README, *sorted(DOCS.glob("*.md"))]:
        for file, anchor in relative_links(page):
            target = (page.parent / file).resolve() if file else page
            if not target.exists():
                broken.append(f"{page.relative_to(REPO)}: {file} does not exist")
            elif anchor and target.suffix == ".md" and anchor not in anchors(target):
                broken.append(f"{page.relative_to(REPO)}: {file}#{anchor} has no such heading")
    assert broken == [], "\n".join(broken)
