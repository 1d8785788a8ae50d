"""The class report's pictures (matplotlib, an optional extra) and its CSV files."""
import csv
import io

from grader.tools.classreport.summary import TROUBLE, who

MATPLOTLIB_HELP = ('the class report draws its pictures with matplotlib, which is not installed: '
                   'pip install -e ".[report]"  (or: pip install matplotlib)')


class MissingMatplotlib(RuntimeError):
    """matplotlib is not installed (the `report` extra)."""


# ----------------------------------------------------------------------------------------------
# Pictures (matplotlib) and CSV
# ----------------------------------------------------------------------------------------------

def pyplot():
    """matplotlib.pyplot on the Agg backend, or MissingMatplotlib saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise MissingMatplotlib(MATPLOTLIB_HELP) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def figures(summary):
    """{name: PNG bytes}: the score histogram, points per section, the commonest mistakes."""
    plt = pyplot()
    blue, grey = "#3b6ea8", "#c9d3df"
    out = {}
    totals = [s.score for s in summary.graded]
    top = max([s.max_score for s in summary.graded] + [1.0])
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    bins = [i * top / 20 for i in range(21)]
    ax.hist(totals, bins=bins, color=blue, edgecolor="white")
    ax.set_xlabel(f"total points (of {top:g})")
    ax.set_ylabel("students")
    ax.set_title(f"Score distribution ({len(totals)} graded)")
    ax.set_xlim(0, top)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    out["scores"] = _png(fig)
    plt.close(fig)

    if summary.sections:
        labels = [f"{n} {t}" for _, n, t, _, _ in summary.sections]
        shares = [100 * e / p for _, _, _, e, p in summary.sections]
        fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(labels) + 1.0))
        y = range(len(labels))
        ax.barh(y, [100] * len(labels), color=grey, height=0.6)
        ax.barh(y, shares, color=blue, height=0.6)
        for i, v in zip(y, shares):
            ax.text(min(v, 100) + 1, i, f"{v:.0f}%", va="center", fontsize=8)
        ax.set_yticks(list(y), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 108)
        ax.set_xlabel("share of the section's points earned (graded students)")
        ax.set_title("Points earned per notebook section")
        ax.spines[["top", "right"]].set_visible(False)
        out["sections"] = _png(fig)
        plt.close(fig)

    if summary.mistakes:
        shown = summary.mistakes[:12]
        fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(shown) + 1.0))
        y = range(len(shown))
        ax.barh(y, [m["students"] for m in shown], color="#b8573b", height=0.6)
        ax.set_yticks(list(y), [m["key"] for m in shown], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("students")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title("Commonest mistakes (diagnosis keys)")
        ax.spines[["top", "right"]].set_visible(False)
        out["mistakes"] = _png(fig)
        plt.close(fig)
    return out


def _write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_csvs(out, summary, names=False):
    """The page's numbers as CSV files in `out`; returns their names."""
    top = max([s.max_score for s in summary.graded] + [1.0])
    files = {
        "scores.csv": (["student", "total", "max_score", "status"],
                       [[who(s, names), f"{s.score:g}", f"{s.max_score:g}", s.status]
                        for s in summary.students]),
        "score_histogram.csv": (["from", "to", "students"], _histogram(summary, top)),
        "sections.csv": (["section", "title", "earned", "possible", "share"],
                         [[n, t, f"{e:g}", f"{p:g}", f"{e / p:.4f}"]
                          for _, n, t, e, p in summary.sections]),
        "mistakes.csv": (["key", "title", "students", "functions"],
                         [[m["key"], m["title"], m["students"], "; ".join(m["functions"])]
                          for m in summary.mistakes]),
        "checks.csv": (["check", "section", "cases", "items", "passed", "pass_rate",
                        "mean_points", "max_points", "flag", "cases_almost_nobody_passes"],
                       [[c["name"], c["section"], c["cases"], c["items"], c["passed"],
                         f"{c['pass_rate']:.4f}", f"{c['mean']:.4f}", f"{c['max']:g}",
                         c["flag"], "; ".join(c["hard_cases"])] for c in summary.checks]),
        "trouble.csv": (["check", "students"] + list(TROUBLE) + ["total"],
                        [[t["name"], t["trouble_students"]]
                         + [t["kinds"].get(k, 0) for k in TROUBLE] + [t["total"]]
                         for t in summary.trouble]),
        "not_graded.csv": (["student", "why"],
                           [[who(s, names), why] for s, why in summary.ungraded]),
        "skipped.csv": (["file", "why"], [[p if names else anon, why]
                                          for anon, p, why in summary.skipped]),
    }
    for name, (header, rows) in files.items():
        _write_csv(out / name, header, rows)
    return list(files)


def _histogram(summary, top):
    edges = [i * top / 20 for i in range(21)]
    counts = [0] * 20
    for s in summary.graded:
        i = min(19, int(s.score / top * 20)) if top else 0
        counts[max(0, i)] += 1
    return [[f"{edges[i]:g}", f"{edges[i + 1]:g}", counts[i]] for i in range(20)]
