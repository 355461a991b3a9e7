"""The board rendered: Markdown (LEADERBOARD.md, the README section) and a static HTML page with plots.

A paired suite (v2) adds, per policy, the paired difference from the best baseline with its CI, the
probability of improvement and a p-value, per scenario and over all; suite v1's board is rendered as before.

The HTML page is one self-contained file (plots are embedded PNGs, nothing is loaded from the
network), so it opens from disk, from CI artifacts or from any static host. A two-line script marks
the body ``data-plots="loaded"`` once every plot has decoded, which the browser test checks.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import numpy as np

from agents.heuristics import HEURISTICS
from leaderboard.board import Board, Comparison, EntryResult, PowerRow
from leaderboard.metrics import METRICS, WINDOW_VALUE
from leaderboard.stats import ALPHA, MIN_EFFECT, POWER, REPS
from leaderboard.suite import DEFAULT_SUITE, Suite

SUMMARY = ("deadline_hit_rate", "goodput", "safe_mode_entries", "thermal_shutdowns")


def _fmt(x: float | None, spec: str) -> str:
    return "–" if x is None or math.isnan(x) else format(x + 0.0, spec)  # + 0.0 turns -0.0 into 0.0


def _ci(iv) -> str:
    return "–" if iv is None else f"{_fmt(iv[0], '.1f')} [{_fmt(iv[1], '.1f')}, {_fmt(iv[2], '.1f')}]"


def _suite_flag(suite: Suite) -> str:
    return "" if suite.name == DEFAULT_SUITE else f" --suite {suite.name}"


def reproduce(suite: Suite) -> str:
    return f"orbit-env leaderboard{_suite_flag(suite)}"


def board_dir(suite: Suite) -> str:
    """Where ``orbit-env leaderboard`` writes the suite's test board, relative to the repository."""
    return "leaderboard" if suite.name == DEFAULT_SUITE else f"leaderboard/{suite.name}"


def _metrics(board: Board):
    """The metrics shown: the suite's own first when it is not one of v1's."""
    return (WINDOW_VALUE, *METRICS) if board.suite.metric == WINDOW_VALUE.key else METRICS


def _p(p: float | None) -> str:
    return "–" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def _vs(c: Comparison | None, name: str) -> list[str]:
    """Δ score [CI], P(improvement), p of entry ``name``; the best baseline itself is marked instead."""
    if c is None:
        return ["–", "–", "–"]
    if c.against == name:
        return ["best baseline", "–", "–"]
    return [_ci(c.diff_score), _fmt(c.p_improvement, ".2f"), _p(c.p)]


def _label(e: EntryResult) -> str:
    return e.name + (" †" if e.meta.get("env_modified") else "") + (" ‡" if e.subset else "")


def subset_note(board: Board) -> str:
    """The footnote of the entries marked ‡ (on a subset of the seeds): which episodes their numbers cover."""
    subs = [e for e in board.entries if e.subset]
    if not subs:
        return ""
    which = "; ".join(f"{e.name}: {e.episodes} of {e.of} episodes (the first {e.meta.get('seeds')} seeds of each scenario it plays)" for e in subs)
    return (f"‡ On a subset of the {board.split} seeds, too costly for all of them: {which}. Their scores, IQM and means "
            "cover those episodes only, so they are not ranked with the entries on every seed (–); their Δ score compares "
            "them with the best baseline on the same seeds.")  # fmt: skip


Table = tuple[list[str], list[list[str]]]  # header, rows of cells


TEXT_COLUMNS = frozenset({"policy", "kind", "status", "reason", "scenario", "against"})  # left-aligned; numbers are right-aligned


def md_table(table: Table) -> list[str]:
    header, rows = table
    sep = ["---" if h in TEXT_COLUMNS else "---:" for h in header]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"] + ["| " + " | ".join(r) + " |" for r in rows]


def html_table(table: Table) -> str:
    header, rows = table
    cls = [' class="text"' if h in TEXT_COLUMNS else "" for h in header]
    th = "".join(f"<th{c}>{html.escape(h)}</th>" for c, h in zip(cls, header))
    trs = "".join("<tr>" + "".join(f"<td{c}>{html.escape(v)}</td>" for c, v in zip(cls, r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def main_table(board: Board) -> Table:
    """Rank, entry, kind, IQM score with its CI, mean score, (paired suites) the paired difference from the best
    baseline with P(improvement) and p, and the summary metrics."""
    metric = {m.key: m for m in METRICS}
    paired = board.suite.paired
    vs = ["Δ score vs best baseline [95% CI]", "P(improvement)", "p"] if paired else []
    header = ["#", "policy", "kind", "IQM score [95% CI]", "mean score", *vs] + [metric[k].label for k in SUMMARY]
    rows = [  # entries on a subset of the seeds come last (build_board) and get no place (subset_note)
        ["–" if e.subset else str(i), _label(e), e.kind, _ci(e.iqm if board.scored else None), _fmt(e.mean_score if board.scored else None, ".1f")]
        + (_vs(e.versus_all, e.name) if paired else [])
        + [_fmt(e.mean(k), metric[k].fmt) for k in SUMMARY]
        for i, e in enumerate(board.ranked, 1)
    ]
    return header, rows


def paired_tables(board: Board) -> list[tuple[str, Table]]:
    """(title, table) per scenario: each policy minus the scenario's best baseline, paired by seed."""
    label, out = _metrics(board)[0].label, []
    for sc in board.suite.scenarios:
        best = board.best.get(sc)
        rows = [
            [_label(e), _ci(c.diff), *_vs(c, e.name)]
            for e in board.played
            if (c := e.versus.get(sc)) is not None
        ]
        if rows:
            title = f"{sc}: against {best} (mean {label} {_fmt(next(e for e in board.played if e.name == best).mean(board.suite.metric, sc), '.2f')})"
            out.append((title, (["policy", f"Δ {label} [95% CI]", "Δ score [95% CI]", "P(improvement)", "p"], rows)))
    return out


def power_md(board: Board, rows: list[PowerRow]) -> str:
    """The seeds per scenario that a paired comparison needs, from the spread measured on this board's split."""
    label = _metrics(board)[0].label
    out = [
        f"# Seeds for {POWER:.0%} power — suite {board.suite.name}, from the {board.split} split",
        "",
        f"Paired seeds that detect a difference of {MIN_EFFECT:.0%} of the best baseline's mean {label} with a "
        f"two-sided paired t-test at alpha {ALPHA:g} (power exact by the noncentral t), from the sd of each policy's "
        "per-seed differences from the best baseline on these seeds. A policy 15-40% behind the best differs from it",
        "seed by seed far more than one 2% behind would, so these counts overstate what a 2% difference needs; suite",
        "v2's test seeds come from the best baseline's near variants (`python benchmarks/seed_power.py`).",
        "",
    ]
    table = (["scenario", "policy", "against", "mean", "sd of Δ", "seeds now", "seeds needed"],
             [[r.scenario, r.entry, r.against, _fmt(r.level, ".2f"), _fmt(r.sd, ".3f"), str(r.seeds_now), str(r.seeds_needed)] for r in rows])  # fmt: skip
    need = {}
    for r in rows:
        need[r.scenario] = max(need.get(r.scenario, 0), r.seeds_needed)
    out += md_table(table) + ["", "Per scenario (the most any compared policy needs):", ""]
    out += md_table((["scenario", "seeds needed"], [[sc, str(n)] for sc, n in need.items()])) + [""]
    return "\n".join(out)


def scenario_score_table(board: Board) -> Table:
    s = board.suite
    return ["policy", *s.scenarios], [[_label(e), *(_ci(e.scenario_scores.get(sc)) for sc in s.scenarios)] for e in board.played]


def scenario_metric_tables(board: Board) -> list[tuple[str, Table]]:
    """(title, table of every metric) per scenario."""
    out = []
    metrics = _metrics(board)
    for task in board.suite.tasks:
        sc = task.scenario
        title = f"{sc} ({len(task.seeds(board.split))} seeds, {task.max_cycles} steps"
        if board.bound is not None and sc in board.bound.values:
            b = board.bound
            title += f"; bound {_fmt(b.mean(board.suite.metric, sc), '.1f')}, solved in {_fmt(b.mean('solve_s', sc), '.1f')} s per seed"
        rows = [[_label(e), *(_fmt(e.mean(m.key, sc), m.fmt) for m in metrics)] for e in board.played if sc in e.values]
        out.append((title + ")", (["policy", *(m.label for m in metrics)], rows)))
    return out


def unranked_table(board: Board) -> Table:
    return ["policy", "status", "reason"], [[_label(e), e.status, e.reason.replace("|", "/")] for e in board.entries if e.status != "ranked"]


def version_line(board: Board) -> str:
    s = board.suite
    scores = (f"scores per episode: {s.zero} on the same seed = 0, the episode's upper bound = 100" if s.paired
              else f"scores: {s.zero} = 0, {s.reference} = 100 per scenario")  # fmt: skip
    return (f"Suite **{s.name}** (`{s.hash}`), **{board.split}** seeds, env `{board.env_hash}`; "
            f"{board.episodes} episodes per policy; {scores}.")  # fmt: skip


def score_text(board: Board) -> str:
    """How the scores are made (the paragraph under the ranking)."""
    s = board.suite
    tail = ("IQM = mean of the middle 50% of all episodes' scores; 95% CIs by stratified bootstrap over episodes within "
            f"scenarios ({REPS:,} resamples, rliable's method). Metrics are means per episode. † = environment modified.")  # fmt: skip
    if not s.paired:
        return f"Score = 100 x (delivered value − {s.zero}'s mean) / ({s.reference}'s mean − {s.zero}'s mean), per scenario. " + tail
    return (
        f"Score = 100 x (window value − {s.zero}'s on the same seed) / (the episode's upper bound − {s.zero}'s on the same seed): "
        f"100 − score is the optimality gap, the share of the headroom between {s.zero} and the bound that a policy leaves. "
        "The bound is a relaxation solved with full knowledge of the episode (leaderboard/bound.py), so 100 may be out of reach. "
        "Δ score: the mean per-seed difference from the best baseline of each scenario (the baseline with the highest mean), "
        "with a paired stratified-bootstrap 95% CI (the same resampled seeds for both); P(improvement): P(X > Y) + 0.5 P(X = Y) "
        "over pairs of episodes, averaged over scenarios (rliable); p: sign-flip permutation test of the mean difference. " + tail
    )


def markdown(board: Board) -> str:
    """The full board: ranking, per-scenario scores, per-scenario metrics, failures, and how it was made."""
    s = board.suite
    out = [f"# orbit-env leaderboard — suite {s.name}, {board.split} split", "", version_line(board), ""]
    if board.note:
        out += [f"> {board.note}", ""]
    out += [f"> warning: {w}" for w in board.warnings] + ([""] if board.warnings else [])
    out += md_table(main_table(board)) + [""]
    out += [note, ""] if (note := subset_note(board)) else []
    out += [score_text(board), ""]
    if board.played and board.scored:
        out += ["## Score per scenario (mean [95% CI])", ""] + md_table(scenario_score_table(board)) + [""]
    if board.played and board.scored and s.paired:
        out += ["## Paired with the best baseline of each scenario (per-seed differences)", ""]
        for title, table in paired_tables(board):
            out += [f"### {title}", ""] + md_table(table) + [""]
    if board.played:
        out += ["## Metrics per scenario (mean per episode)", ""]
        for title, table in scenario_metric_tables(board):
            out += [f"### {title}", ""] + md_table(table) + [""]
    if len(board.ranked) < len(board.entries):
        out += ["## Not ranked", ""] + md_table(unranked_table(board)) + [""]
    out += ["## Metrics", ""] + [f"- **{m.label}**: {m.doc}." for m in _metrics(board)] + [""]
    out += [f"Reproduce: `{reproduce(s)}` (evaluates what is missing, then renders this file and `leaderboard.html`).", ""]
    return "\n".join(out)


def readme_section(board: Board) -> str:
    """The README's leaderboard section: the ranking and the commands."""
    s, flag, where = board.suite, _suite_flag(board.suite), board_dir(board.suite)
    commands = [
        (f"orbit-env leaderboard{flag}", f"evaluate every baseline and submission on suite {s.name}, print the board"),
        (f"orbit-env evaluate edf-safe{flag} --split dev", "one policy (a baseline name or a submission folder)"),
        (f"orbit-env board{flag}", "the stored board, without evaluating"),
    ]
    width = max(len(c) for c, _ in commands) + 4
    normalised = (
        f"per episode ({s.zero} on the same seed = 0, the episode's upper bound = 100: 100 − score is the optimality gap) and "
        "aggregated with the interquartile mean and stratified-bootstrap 95% confidence intervals; each policy is compared, "
        "paired by seed, with the best baseline of each scenario"
        if s.paired else
        f"per scenario ({s.zero} = 0, {s.reference} = 100) and aggregated with the interquartile mean and stratified-bootstrap "
        "95% confidence intervals"
    )  # fmt: skip
    return "\n".join(
        ["## Leaderboard", "", version_line(board), ""]
        + md_table(main_table(board))
        + ([""] + [note] if (note := subset_note(board)) else [])
        + [
            "",
            f"Scores are normalised {normalised}. Per-scenario "
            f"scores and metrics: [{where}/LEADERBOARD.md]({where}/LEADERBOARD.md); plots: "
            f"`{where}/leaderboard.html`.",
            "",
            "Baselines (`agents/heuristics.py`; each adds one idea to the one before):",
            "",
            *(f"- **{name}**: {(cls.__doc__ or '').strip().splitlines()[0]}" for name, cls in HEURISTICS.items()),
            "",
            "```bash",
            *(f"{c:<{width}}# {comment}" for c, comment in commands),
            "```",
            "",
            "To submit a policy (heuristic parameters or safetensors network weights), see "
            "[leaderboard/SUBMISSIONS.md](leaderboard/SUBMISSIONS.md).",
            "",
        ]
    )


# -------------------------------------------------------------------------------------------- HTML


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def plot_scenario_scores(board: Board) -> str:
    """Mean score per scenario with 95% CIs, one bar group per scenario plus the overall IQM."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ranked, groups = board.ranked, [*board.suite.scenarios, "IQM (all)"]
    fig, ax = plt.subplots(figsize=(10, 4.2))
    width = 0.8 / max(len(ranked), 1)
    for i, e in enumerate(ranked):
        iv = [e.scenario_scores.get(sc, (math.nan,) * 3) for sc in board.suite.scenarios] + [e.iqm]
        x = np.arange(len(groups)) + (i - (len(ranked) - 1) / 2) * width
        point = np.array([v[0] for v in iv])
        err = np.array([[v[0] - v[1] for v in iv], [v[2] - v[0] for v in iv]])
        ax.bar(x, point, width, yerr=err, capsize=2, label=_label(e))
    ax.axhline(0, color="black", lw=0.8)
    ax.axhline(100, color="grey", lw=0.8, ls="--")
    ax.set_xticks(np.arange(len(groups)), groups, rotation=15)
    ax.set_ylabel(f"score ({board.suite.zero} = 0, {board.suite.reference} = 100)")
    ax.set_title("Score per scenario (mean, 95% CI) and overall IQM")
    ax.legend(fontsize=8, ncol=3)
    return _png(fig)


def plot_profile(board: Board) -> str:
    """Performance profile: fraction of episodes scoring above each threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from leaderboard.stats import performance_profile

    taus = np.linspace(-100.0, 200.0, 301)  # from far below random to twice the reference
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for e in board.ranked:
        ax.plot(taus, performance_profile(e.all_scores(), taus), label=_label(e))
    ax.set_xlabel("normalised score τ")
    ax.set_ylabel("fraction of episodes with score > τ")
    ax.set_title("Performance profile")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 75em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }}
.text {{ text-align: left; }}
img {{ max-width: 100%; }}
.note {{ background: #fff3cd; padding: 0.5em 1em; }}
</style></head>
<body>
<h1>{title}</h1>
<p>{version}</p>
{note}
<h2>Ranking</h2>
{ranking}{explain}
<h2>Plots</h2>
{plots}
{scenario_scores}{paired}
{scenario_tables}
{others}
<p>Reproduce: <code>{reproduce}</code>.</p>
<script>
window.addEventListener("load", () => {{
  const ok = [...document.images].every(i => i.complete && i.naturalWidth > 0);
  document.body.dataset.plots = ok ? "loaded" : "broken";
}});
</script>
</body></html>
"""


def page(board: Board) -> str:
    """The static HTML page: ranking, the two plots, per-scenario metric tables, unranked entries."""
    esc = html.escape
    plots = "<p>No scores yet.</p>"
    if board.ranked and board.scored:
        plots = (f'<img alt="score per scenario" src="data:image/png;base64,{plot_scenario_scores(board)}">'
                 f'<img alt="performance profile" src="data:image/png;base64,{plot_profile(board)}">')  # fmt: skip
    scenario_tables = "".join(f"<h3>{esc(t)}</h3>{html_table(tab)}" for t, tab in scenario_metric_tables(board)) if board.played else ""
    unranked = unranked_table(board)
    title = f"orbit-env leaderboard — suite {board.suite.name}, {board.split} split"
    return PAGE.format(
        title=esc(title),
        version=esc(version_line(board).replace("**", "").replace("`", "")),
        note="".join(f'<p class="note">{esc(n)}</p>' for n in [board.note, *(f"warning: {w}" for w in board.warnings)] if n),
        ranking=html_table(main_table(board)) + (f"<p>{esc(note)}</p>" if (note := subset_note(board)) else ""),
        explain=f"<p>{esc(score_text(board))}</p>" if board.suite.paired else "",
        plots=plots,
        scenario_scores=f"<h2>Score per scenario (mean [95% CI])</h2>{html_table(scenario_score_table(board))}" if board.played and board.scored else "",
        paired="<h2>Paired with the best baseline of each scenario</h2>" + "".join(f"<h3>{esc(t)}</h3>{html_table(tab)}" for t, tab in paired_tables(board))
        if board.played and board.scored and board.suite.paired else "",
        scenario_tables=f"<h2>Metrics per scenario</h2>{scenario_tables}" if scenario_tables else "",
        others=f"<h2>Not ranked</h2>{html_table(unranked)}" if unranked[1] else "",
        reproduce=esc(reproduce(board.suite)),
    )


def write(board: Board, out_dir: str | Path) -> list[Path]:
    """Write LEADERBOARD.md, README_SECTION.md and leaderboard.html into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"LEADERBOARD.md": markdown(board), "README_SECTION.md": readme_section(board), "leaderboard.html": page(board)}
    for name, text in files.items():
        (out / name).write_text(text)
    return [out / n for n in files]
