"""The README states what the code does: its weights table is grader/config.py's."""
import re

from grader import report
from grading import REPO


def test_readme_weights_table_is_the_config_table():
    text = (REPO / "README.md").read_text()
    match = re.search(r"<!-- weights:begin -->\n(.*?)\n<!-- weights:end -->", text, re.S)
    assert match, "README.md lost its weights markers"
    assert match.group(1) == report.weights_markdown(), \
        "README's weights table is stale: paste the output of `python -m grader weights`"


def test_readme_setup_commands_are_what_ci_runs():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    block = re.search(r"## Set-up.*?```\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    assert len(block) == 2, block
    for command in block:
        assert command in ci, f"CI does not run the README's command: {command}"


def test_readme_names_every_ci_leg():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    legs = re.search(r"^LEGS=\((.*?)\)$", ci, re.M).group(1).split()
    assert legs[0] == "main" and len(legs) >= 4
    for leg in legs:
        assert f"| `{leg}` |" in readme, f"README's table of .ci/run legs lacks {leg}"
        assert f"leg_{leg}()" in ci
