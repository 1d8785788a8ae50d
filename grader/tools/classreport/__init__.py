"""The class report: what a whole class got wrong (`python -m grader report RESULTS... --out DIR`).

Reads many results.json (a `grade-all` output folder, or any folder holding one results.json per
submission at any depth, as Gradescope's export gives them) and writes DIR/index.html, a static,
self-contained page (the pictures are embedded PNGs, no script, nothing fetched), plus the same
numbers as CSV files for spreadsheets:

1. the score distribution (histogram of totals) and the share of points earned per section;
2. the common mistakes: every diagnosis key (grader.feedback.causes.CAUSES) the checks gave, how many
   students hit it, in which functions, with one example message;
3. per check: pass rate, mean points, flags for checks that (almost) nobody or everybody passes,
   and the checks that time out, crash or raise;
4. the submissions that were not graded, or in which nothing usable was found (the loader's
   reason).

Students are anonymised (stable ids derived from the submission's folder name) unless
names=True. A results.json that cannot be read, comes from another grader or lacks fields is
listed as skipped with the reason; the report is written anyway. The plots need matplotlib, an
optional extra (`pip install -e ".[report]"`).
"""
import os
from pathlib import Path

from grader.tools.classreport import figures, page, summary
from grader.tools.classreport.figures import MissingMatplotlib

__all__ = ["MissingMatplotlib", "add_arguments", "run", "write_report"]


def write_report(paths, out_dir, names=False):
    """Read the results under `paths`, write out_dir/index.html and the CSVs; returns the
    page's path. Raises MissingMatplotlib before writing anything when matplotlib is absent."""
    figures.pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    numbers = summary.summarize(summary.read_inputs(paths), names=names)
    pngs = figures.figures(numbers)
    figures.write_csvs(out, numbers, names)
    path = out / "index.html"
    tmp = path.with_name(".index.html.part")
    tmp.write_text(page.render(numbers, pngs, names), encoding="utf-8")
    os.replace(tmp, path)
    return path


def add_arguments(parser):
    """The options of `python -m grader report`."""
    parser.add_argument("results", nargs="*", metavar="RESULTS", default=["."],
                        help="grade-all output folders, folders holding one results.json per "
                             "submission at any depth (a Gradescope export), or results.json "
                             "files (default: the current folder)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="where index.html and the CSV files go")
    parser.add_argument("--names", action="store_true",
                        help="show students' names (from gradebook.csv) and folder names; "
                             "default: anonymous stable ids")


def run(args):
    """`python -m grader report`: write the page and CSVs; the exit status (2: no matplotlib)."""
    try:
        page = write_report(args.results, args.out, names=args.names)
    except MissingMatplotlib as e:
        print(f"error: {e}")
        return 2
    print(f"class report: {page}")
    return 0
