"""Who submitted what: Gradescope's submission_metadata.yml, read for `grade-all`'s gradebook
and for the names the class report shows with --names (both tools need it, so it lives below them).
"""
import re
from pathlib import Path

METADATA = "submission_metadata.yml"


def read_metadata(folder):
    """{submission key: {"name", "email", "sid"}} from Gradescope's submission_metadata.yml.

    The file is YAML with Ruby-style keys (":name: Jane Doe"); this reads just those three
    fields, so no YAML library is needed. Several submitters (a group) are joined with "; ".
    """
    path = next((p for p in (Path(folder) / METADATA, *Path(folder).glob(f"*/{METADATA}"))
                 if p.is_file()), None)
    people = {}
    if path is None:
        return people
    current = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        top = re.match(r"^(\S[^:]*):\s*$", line)
        if top:
            current = people.setdefault(top.group(1).strip("'\""), {})
            continue
        field = re.match(r"^\s*-?\s*:(name|email|sid):\s*(.*)$", line)
        if field and current is not None:
            key, value = field.group(1), field.group(2).strip().strip("'\"")
            current[key] = f"{current[key]}; {value}" if key in current else value
    return people
