"""Selecting checks by the names students know, and telling a partial run from a whole one.

`pytest grader -k NAME` and `check(NAME)` select exactly the checks of a graded function (the
first tag of its checks) when NAME is that function's name or one of config.SHORT_NAMES; any
other -k expression is pytest's own, matched also against these names (the plugin adds them to
each item's keywords). Plain data in and out: grader/plugin.py applies it to pytest's items.
"""
from grader import config


def short_forms(graded):
    """The short forms (config.SHORT_NAMES) that stand for the graded function `graded`."""
    return [short for short, names in config.SHORT_NAMES.items() if graded in names]


def targets(expression, graded_names):
    """The graded functions a -k expression names whole (a graded name or a short form, in any
    case), or None when it is some other expression (left to pytest)."""
    wanted = (expression or "").strip().lower()
    if not wanted:
        return None
    exact = [name for name in graded_names if name.lower() == wanted]
    if exact:
        return set(exact)
    for short, names in config.SHORT_NAMES.items():
        if short.lower() == wanted:
            return set(names)
    return None


def names_help(graded_names):
    """What to write after -k (or in check()): the graded names in notebook order, and the short forms."""
    return ("Graded names: " + ", ".join(graded_names) + ". Short forms: "
            + ", ".join(config.SHORT_NAMES) + ".")


def expected_items(check_keys, visible_only=False):
    """How many check items the grader's checks `check_keys` (config.CHECKS keys) make here: one
    per case whose fixture is present, one for a check without cases, none for a hidden check
    whose fixtures are absent (the student release)."""
    from grader import cases
    total = 0
    for key in check_keys:
        hidden = key.endswith(".hidden")
        if hidden and visible_only:
            continue
        found = len(cases.cases_for(key, only_present=hidden))
        total += found or (0 if hidden else 1)
    return total
