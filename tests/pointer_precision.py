#!/usr/bin/env python3
"""How far the pointers of graded submissions can be trusted: a precision check to run by hand.

    python tests/pointer_precision.py RESULTS_DIR [--labels LABELS.tsv] [--list]

RESULTS_DIR holds one results.json per submission (<id>.json, as score.py --out writes them).
For every graded function that lost points (only those labelled broken when --labels is given),
each failing item's pointers are counted by how they were confirmed before they were shown
(grader.feedback.causes.confirmed_by: simulated, experiment, exception, observed, heuristic),
and every failing item without a pointer that says what is wrong is counted as an unexplained
failing case. --list prints one line per pointer that is not confirmed (heuristic) and per
unexplained case, naming the submission and function, so each can be read against the code.
"""
import argparse
import collections
import csv
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from grader.feedback.causes import confirmed_by  # noqa: E402
from grader.feedback.pointers import GENERAL_KEYS  # noqa: E402


def lost(test):
    """True if a results.json test lost points."""
    return float(test.get("score", 0)) < float(test.get("max_score", 0)) - 1e-9


NET_LABELS = ("cnn_init", "cnn_scores", "cnn_loss")   # LABELS.tsv's rows of ThreeLayerConvNet
UNSCORED = ("correct", "not_implemented", "missing")  # nothing to point at


def broken_functions(path):
    """{submission id: {graded function labelled broken (not merely unimplemented)}} from a
    LABELS.tsv (its net rows count as ThreeLayerConvNet)."""
    out = collections.defaultdict(set)
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["label"] not in UNSCORED:
                fn = "ThreeLayerConvNet" if row["function"] in NET_LABELS else row["function"]
                out[row["id"]].add(fn)
    return out


def tally(results, only=None):
    """(Counter of pointer kinds, [(function, test name, keys)] unexplained, [(function, key,
    test name)] heuristic, functions) over one submission's results.json."""
    kinds, unexplained, heuristic, functions = collections.Counter(), [], [], set()
    for t in results.get("tests", []):
        fn = t.get("name", "").split(":")[0]
        if not lost(t) or (only is not None and fn not in only):
            continue
        functions.add(fn)
        keys = (t.get("extra_data") or {}).get("diagnoses") or []
        for k in keys:
            kinds[confirmed_by(k)] += 1
            if confirmed_by(k) == "heuristic":
                heuristic.append((fn, k, t["name"]))
        if not [k for k in keys if k not in GENERAL_KEYS]:
            unexplained.append((fn, t["name"], keys))
    return kinds, unexplained, heuristic, functions


def main():
    """Print the precision figures of a folder of results.json files."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("--labels", default=None)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    broken = broken_functions(args.labels) if args.labels else None
    kinds, failing_items, unexplained, heuristic, functions = collections.Counter(), 0, [], [], 0
    for name in sorted(os.listdir(args.results)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(args.results, name)) as f:
            results = json.load(f)
        sid = name[:-5]
        k, u, h, fns = tally(results, None if broken is None else broken.get(sid, set()))
        kinds += k
        failing_items += sum(1 for t in results.get("tests", []) if lost(t)
                             and t.get("name", "").split(":")[0] in fns)
        functions += len(fns)
        unexplained += [(sid,) + x for x in u]
        heuristic += [(sid,) + x for x in h]
    total = sum(kinds.values())
    confirmed = total - kinds["heuristic"]
    print(f"{functions} functions lost points in {failing_items} failing items")
    print(f"pointers: {total}; confirmed {confirmed} ({100.0 * confirmed / max(total, 1):.0f} %): "
          + ", ".join(f"{how} {n}" for how, n in sorted(kinds.items()) if how != "heuristic")
          + f"; heuristic (worded 'may') {kinds['heuristic']}")
    print(f"unexplained failing items (no pointer saying what is wrong): {len(unexplained)} of "
          f"{failing_items}, in {len({(s, f) for s, f, _, _ in unexplained})} functions")
    if args.list:
        for sid, fn, key, test in heuristic:
            print(f"HEURISTIC {sid} {fn}: {key} in {test[len(fn) + 2:][:70]}")
        for sid, fn, test, keys in unexplained:
            print(f"UNEXPLAINED {sid} {fn}: {test[len(fn) + 2:][:70]} {keys or ''}")


if __name__ == "__main__":
    main()
