"""The class report's page: one static, self-contained HTML file (no script, nothing fetched)."""
import base64
import html

from grader.tools.classreport.summary import EVERYBODY, FUNCTIONS_SHOWN, NOBODY, TROUBLE, who

# ----------------------------------------------------------------------------------------------
# The page
# ----------------------------------------------------------------------------------------------

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
  color:#1d2733;background:#f4f6f9;margin:0}
main{max-width:1060px;margin:0 auto;padding:24px 28px 60px}
header{background:#1f3a5a;color:#fff;padding:22px 28px}
header h1{margin:0;font-size:24px;max-width:1060px;margin:0 auto}
header p{margin:6px auto 0;max-width:1060px;opacity:.85}
h2{margin:34px 0 10px;font-size:19px;border-bottom:2px solid #d5dde7;padding-bottom:4px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0}
.card{background:#fff;border:1px solid #dbe2ea;border-radius:8px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:22px;color:#1f3a5a}
.card span{font-size:12px;color:#5b6b7c;text-transform:uppercase;letter-spacing:.04em}
figure{background:#fff;border:1px solid #dbe2ea;border-radius:8px;margin:12px 0;padding:10px;
  text-align:center}
figure img{max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13.5px;margin:8px 0}
th,td{border-bottom:1px solid #e3e8ee;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#e9eef4;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
code.key{color:#5b6b7c;font-size:11.5px}
.flag{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;white-space:nowrap}
.flag.low{background:#fbe1dc;color:#8a2b14}.flag.high{background:#e2f0e1;color:#2d5e2a}
.bar{background:#e3e8ee;border-radius:3px;height:9px;width:90px;display:inline-block;
  vertical-align:middle;margin-right:6px}
.bar i{display:block;height:9px;border-radius:3px;background:#3b6ea8}
details{background:#fff;border:1px solid #dbe2ea;border-radius:6px;margin:8px 0;padding:6px 12px}
details:target{border-color:#b8573b;box-shadow:0 0 0 2px #f3c7b9}
summary{cursor:pointer;font-weight:600}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f9fb;padding:10px;border-radius:4px;
  font-size:12.5px;margin:8px 0}
.muted{color:#5b6b7c;font-size:13px}
"""


def _e(text):
    return html.escape(str(text), quote=True)


def _img(pngs, name, alt):
    if name not in pngs:
        return ""
    data = base64.b64encode(pngs[name]).decode("ascii")
    return f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}"></figure>'


def _anchor(key):
    return "ex-" + "".join(c if c.isalnum() else "-" for c in key)


def render(summary, pngs, names=False, title="cs260 class report"):
    """The page as one HTML string."""
    parts = (_head_html(summary, pngs, names, title) + _mistakes_html(summary, pngs)
             + _checks_html(summary) + _trouble_html(summary)
             + _ungraded_html(summary, names) + _examples_html(summary))
    return "\n".join(parts)


def _head_html(s, pngs, names, title):
    """The page's head, the summary cards and section 1 (scores, points per section)."""
    totals = [x.score for x in s.graded]
    mean = sum(totals) / len(totals) if totals else 0.0
    median = sorted(totals)[len(totals) // 2] if totals else 0.0
    full = sum(1 for x in s.graded if x.max_score and x.score >= x.max_score - 1e-9)
    parts = [f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{CSS}</style></head><body>
<header><h1>{_e(title)}</h1>
<p>{len(s.students)} submissions read: {len(s.graded)} graded, {len(s.ungraded)} not graded or
with nothing usable (section 4, left out of the statistics); {len(s.skipped)} result files
skipped. {'Names shown (--names).' if names else 'Anonymised: students appear as stable ids.'}
</p></header><main>
<div class="cards">
<div class="card"><span>graded</span><b>{len(s.graded)}</b></div>
<div class="card"><span>mean score</span><b>{mean:.1f}</b></div>
<div class="card"><span>median</span><b>{median:g}</b></div>
<div class="card"><span>full marks</span><b>{full}</b></div>
<div class="card"><span>distinct mistakes</span><b>{len(s.mistakes)}</b></div>
<div class="card"><span>not graded / nothing usable</span><b>{len(s.ungraded)}</b></div>
</div>
<h2 id="scores">1. Score distribution</h2>
{_img(pngs, "scores", "histogram of total scores")}
{_img(pngs, "sections", "share of points earned per notebook section")}
<table><tr><th>section</th><th>title</th><th>points earned</th><th>share</th></tr>
"""]
    for _, number, stitle, earned, possible in s.sections:
        share = earned / possible
        parts.append(f'<tr><td>{_e(number)}</td><td>{_e(stitle)}</td>'
                     f'<td class="n">{earned:g} / {possible:g}</td><td class="n">'
                     f'<span class="bar"><i style="width:{100 * share:.0f}%"></i></span>'
                     f'{100 * share:.0f}%</td></tr>')
    parts.append("</table>")
    return parts


def _mistakes_html(s, pngs):
    """Section 2: the common mistakes, commonest first, each linked to an example message."""
    parts = ['<h2 id="mistakes">2. Common mistakes</h2>'
             '<p class="muted">Every likely cause the checks diagnosed, by its stable key, '
             'with the number of students who hit it (at least once) and the functions '
             'where it showed up. The example is one student\'s message, anonymised.</p>',
             _img(pngs, "mistakes", "bar chart of the commonest mistakes")]
    if not s.mistakes:
        return parts + ["<p>No diagnosis in these results.</p>"]
    parts.append("<table><tr><th>students</th><th>mistake (diagnosis key)</th>"
                 "<th>functions</th><th>example</th></tr>")
    for m in s.mistakes:
        shown = m["functions"][:FUNCTIONS_SHOWN]
        more = len(m["functions"]) - len(shown)
        funcs = ", ".join(f"<code>{_e(f)}</code>" for f in shown) + (
            f' <span class="muted">+{more} more</span>' if more > 0 else "")
        parts.append(f'<tr><td class="n">{m["students"]}</td><td>{_e(m["title"])}<br>'
                     f'<code class="key">{_e(m["key"])}</code></td><td>{funcs}</td>'
                     f'<td><a href="#{_anchor(m["key"])}">example</a></td></tr>')
    parts.append("</table>")
    return parts


def _checks_html(s):
    """Section 3: pass rate and mean points per check, flagged at the extremes."""
    parts = ['<h2 id="checks">3. Per check</h2>'
             f'<p class="muted">Pass rate over the cases run (a check has one item per '
             f'case); mean points per graded student. Flags: pass rate at most '
             f'{NOBODY:.0%} (a broken check or an unclear TODO?) or at least '
             f'{EVERYBODY:.0%}.</p><table><tr><th>check</th><th>section</th>'
             '<th>cases</th><th>pass rate</th><th>mean points</th><th>flag</th></tr>']
    for c in s.checks:
        cls = "low" if c["pass_rate"] <= NOBODY else "high"
        flag = f'<span class="flag {cls}">{_e(c["flag"])}</span>' if c["flag"] else ""
        hard = (f'<br><span class="muted">cases almost nobody passes: '
                f'{_e(", ".join(c["hard_cases"]))}</span>' if c["hard_cases"] else "")
        parts.append(f'<tr><td>{_e(c["name"])}{hard}</td><td>{_e(c["section"])}</td>'
                     f'<td class="n">{c["cases"]}</td><td class="n"><span class="bar"><i '
                     f'style="width:{100 * c["pass_rate"]:.0f}%"></i></span>'
                     f'{100 * c["pass_rate"]:.0f}%</td>'
                     f'<td class="n">{c["mean"]:.2f} / {round(c["max"], 2):g}</td>'
                     f'<td>{flag}</td></tr>')
    parts.append("</table>")
    return parts


def _trouble_html(s):
    """The checks that time out, crash or raise, counted by kind."""
    parts = ['<h3>Checks that time out, crash or raise</h3>']
    if not s.trouble:
        return parts + ["<p>None.</p>"]
    parts.append('<p class="muted">Failed cases by kind (a student counts once per case); '
                 'students: how many hit any of them in this check.</p>'
                 "<table><tr><th>check</th><th>students</th>"
                 + "".join(f"<th>{k}</th>" for k in TROUBLE) + "<th>total</th></tr>")
    for t in s.trouble:
        parts.append(f"<tr><td>{_e(t['name'])}</td><td class=\"n\">{t['trouble_students']}</td>"
                     + "".join(f'<td class="n">{t["kinds"].get(k, 0)}</td>' for k in TROUBLE)
                     + f'<td class="n">{t["total"]}</td></tr>')
    parts.append("</table>")
    return parts


def _ungraded_html(s, names):
    """Section 4: submissions not graded or with nothing usable, and result files skipped."""
    parts = ['<h2 id="ungraded">4. Not graded, or nothing usable found</h2>']
    if s.ungraded:
        parts.append("<table><tr><th>student</th><th>why</th></tr>")
        for student, why in s.ungraded:
            parts.append(f"<tr><td>{_e(who(student, names))}</td><td>{_e(why)}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>Every submission was graded.</p>")
    if s.skipped:
        parts.append("<h3>Result files skipped</h3><table><tr><th>file</th><th>why</th></tr>")
        for anon, path, why in s.skipped:
            shown = path if names else f"{anon}/results.json"
            parts.append(f"<tr><td><code>{_e(shown)}</code></td><td>{_e(why)}</td></tr>")
        parts.append("</table>")
    return parts


def _examples_html(s):
    """One example message per mistake (the targets of section 2's links), and the page's end."""
    parts = ['<h2 id="examples">Example messages</h2>']
    for m in s.mistakes:
        parts.append(f'<details id="{_anchor(m["key"])}"><summary><code>{_e(m["key"])}</code>'
                     f' &mdash; {_e(m["title"])}</summary><p class="muted">{_e(m["example_check"])}'
                     f' (student {_e(m["example_of"])})</p><pre>{_e(m["example"])}</pre>'
                     f'</details>')
    parts.append('<p class="muted">The numbers are also in the CSV files beside this page.</p>'
                 "</main></body></html>\n")
    return parts
