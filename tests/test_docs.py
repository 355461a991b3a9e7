"""The documentation site: its tutorials run, it builds with warnings as errors, and its pages load in Chromium.

The tutorials (docs/tutorials/*.py) run as a user runs them, in a fresh process with tiny budgets. The build
needs the docs extra (``pip install -e ".[docs]"``) and the browser check Debian's ``chromium``; each is
skipped when absent. The browser check serves the built site on localhost, loads every page headless and
fails on a JavaScript error, a resource the page requested that the server does not have, a link or image
to a missing file or anchor, or a page whose title is not its heading.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

from orbit_env.scenario import shipped_scenarios

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"  # beside the checkout, as in conftest.py; absent in a user's clone
TUTORIALS = REPO / "docs" / "tutorials"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr",
                  "--v=0"]  # fmt: skip


def run_tutorial(name: str, cwd: Path, *args: str) -> str:
    """Run docs/tutorials/NAME.py in ``cwd`` with this checkout first on the path; its output, or a failure
    with it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(TUTORIALS / f"{name}.py"), *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)  # fmt: skip
    assert done.returncode == 0, f"{name}.py failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def table_rows(out: str) -> dict[str, list[float]]:
    """The numeric columns of each ``name  x  y ...`` line of a printed table."""
    rows = {}
    for line in out.splitlines():
        name, *cells = line.split()
        try:
            rows[name] = [float(c) for c in cells]
        except ValueError:
            continue
    return rows


def test_every_tutorial_has_a_page_that_includes_it():
    scripts = sorted(p.stem for p in TUTORIALS.glob("*.py"))
    assert scripts == sorted(p.stem for p in TUTORIALS.glob("*.md"))
    for name in scripts:
        page = (TUTORIALS / f"{name}.md").read_text(encoding="utf-8")
        assert f"```{{literalinclude}} {name}.py" in page, f"{name}.md does not include {name}.py"


def test_quickstart(tmp_path):
    out = run_tutorial("quickstart", tmp_path)
    assert "12 agents; observation (93,), 22 actions" in out
    assert "BatchEnv: observations (8, 12, 93), masks (8, 12, 22)" in out
    assert "Gymnasium, everyone idle: return 0.00" in out  # nothing runs, nothing is delivered


def test_heuristic_tutorial_policy_sits_between_the_blind_and_the_budgeting_baseline(tmp_path):
    rows = table_rows(run_tutorial("heuristic", tmp_path))
    assert set(rows) >= {"random", "greedy", "edf", "edf-safe", "sunlit-edf"}
    safe_mode = {name: row[1] for name, row in rows.items()}
    # slowing down in eclipse saves some safe-mode entries; budgeting the eclipse saves nearly all
    assert safe_mode["edf-safe"] < safe_mode["sunlit-edf"] < safe_mode["edf"]
    assert rows["sunlit-edf"][0] > rows["edf"][0]


def test_ppo_tutorial_trains_exports_and_plays(tmp_path):
    for module in ("torch", "sb3_contrib", "safetensors"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (the train extra)")
    out = run_tutorial("ppo", tmp_path, str(tmp_path / "run"))
    assert "trained 3,072 agent-steps" in out
    assert (tmp_path / "run" / "policy.json").is_file() and (tmp_path / "run" / "policy.safetensors").is_file()
    assert re.search(r"ppo \(tiny\) +delivered \d+\.\d\d GPU-h", out)


def test_board_tutorial_ranks_the_submission(tmp_path):
    out = run_tutorial("board", tmp_path, str(tmp_path))
    assert (tmp_path / "results.sqlite").is_file()
    ranked = {line.split("|")[2].strip(): line for line in out.splitlines() if re.match(r"\| \d+ \|", line)}
    assert set(ranked) == {"random", "edf-safe", "my-edf-safe"}
    assert "| heuristic |" in ranked["my-edf-safe"]
    assert "| 100.0 [" in ranked["edf-safe"]  # the scale: edf-safe = 100, random = 0
    assert re.search(r"\| -?0\.0 \[", ranked["random"])


def test_tles_and_traces_tutorial(tmp_path):
    traces = SHARED / "traces"
    out = run_tutorial("tles-and-traces", tmp_path, str(tmp_path), str(traces))
    assert "my-fleet.tle: 6 satellites, epoch 2026-04-30T00:00:00, agent sat_0 is line 2 of the file" in out
    assert re.search(r"my-cluster.csv: 40 jobs submitted per episode", out)  # the 40 rows of the 6 h window
    if traces.is_dir():
        assert "philly_week_2017-10-09.csv from hour 24" in out
    else:
        assert "the public trace windows are skipped" in out


# ------------------------------------------------------------------------------------------------ the site


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site built from scratch with warnings as errors, the command CI and the README give."""
    for module in ("sphinx", "myst_parser", "furo"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (the docs extra)")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d",
                           str(out / "doctrees"), str(REPO / "docs"), str(out / "html")],
                          capture_output=True, text=True, env=env, timeout=900)  # fmt: skip
    assert done.returncode == 0, f"sphinx-build failed:\n{done.stdout}\n{done.stderr}"
    return out / "html"


def test_site_has_the_env_card_every_scenario_card_and_the_api(site):
    card = (site / "_generated" / "env-card.html").read_text(encoding="utf-8")
    for heading in ("Observation Space", "Action Space", "Rewards", "Episode End", "Version history"):
        assert f">{heading}<" in card
    for name in shipped_scenarios():
        page = (site / "_generated" / "scenarios" / f"{name}.html").read_text(encoding="utf-8")
        assert f"<h1>{name}" in page and "orbit.altitude_km" in page and "workload.generator" in page
    for name in shipped_scenarios("v2"):
        assert "What binds" in (site / "_generated" / "scenarios" / f"{name}.html").read_text(encoding="utf-8")
    api = (site / "api.html").read_text(encoding="utf-8")
    for obj in ("orbit_env.batch.BatchEnv", "agents.policy.ArrayPolicy", "agents.learned.load_policy",
                "agents.planner", "orbit_env.vector", "leaderboard.cli.add_commands"):
        assert f'id="{obj}' in api, obj
    assert "<table" in api  # the docstrings' Markdown tables are tables, not text


class _Page(HTMLParser):
    """The title, first heading, ids, links and image sources of a page's DOM."""

    def __init__(self):
        super().__init__()
        self.title, self.h1, self.ids, self.links, self.images = "", "", set(), [], []
        self._in = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
        if tag in ("title", "h1") and not getattr(self, tag):
            self._in = tag

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in:
            setattr(self, self._in, getattr(self, self._in) + data)


class _Handler(http.server.SimpleHTTPRequestHandler):
    missing: list[str]

    def send_error(self, code, message=None, explain=None):
        if self.path != "/favicon.ico":  # the browser asks for it by itself; the pages do not link it
            self.missing.append(f"{code} {self.path}")
        super().send_error(code, message, explain)

    def log_message(self, format, *args):
        pass


def _chromium() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


def test_pages_load_in_headless_chromium(site, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium (apt-get install chromium)")
    missing: list[str] = []
    handler = functools.partial(type("H", (_Handler,), {"missing": missing}), directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if not p.relative_to(site).parts[0].startswith("_")
                   or p.relative_to(site).parts[0] == "_generated")  # fmt: skip
    assert len(pages) >= 15 + len(shipped_scenarios())
    problems, doms = [], {}
    try:
        for page in pages:
            done = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                                   base + page], capture_output=True, text=True, timeout=120)  # fmt: skip
            errors = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
            if done.returncode != 0 or errors:
                problems.append(f"{page}: exit {done.returncode}, console {errors}")
            doms[page] = _Page()
            doms[page].feed(done.stdout)
    finally:
        server.shutdown()
    for page, dom in doms.items():
        heading = dom.h1.replace("¶", "").replace("#", "").strip()
        if page not in ("genindex.html", "search.html", "py-modindex.html") and not dom.title.startswith(heading):
            problems.append(f"{page}: title {dom.title!r} does not start with its heading {heading!r}")
        for ref in dom.links + dom.images:
            url = urlparse(urljoin(base + page, ref))
            if not (base + page).startswith(f"{url.scheme}://{url.netloc}/"):
                continue  # external: not checked offline
            target = unquote(url.path.lstrip("/")) or "index.html"
            if not (site / target).is_file():
                problems.append(f"{page}: {ref} -> {target} does not exist")
            elif url.fragment and target in doms and url.fragment not in doms[target].ids:
                problems.append(f"{page}: {ref} -> no id {url.fragment!r} in {target}")
    assert not problems, "\n".join(problems)
    assert not missing, f"requests the server could not answer: {missing}"
