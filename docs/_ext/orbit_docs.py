"""Sphinx extension for the orbit-env site: Markdown docstrings, the env card and the scenario cards.

The package's docstrings are Markdown (``##`` headings, pipe tables, lists, indented code, ``code``), which
autodoc would read as reStructuredText and garble; here every docstring autodoc collects is parsed with
MyST instead, headings becoming rubrics inside a class or function entry.

The cards are generated at build time into ``docs/_generated/`` (never committed): the env card is the
module docstring of ``orbit_env.env``, and each shipped scenario's card is its TOML file (header comment,
every value with the source comment beside it, the defaults it leaves) and, for suite v2, its section of
``docs/scenarios-v2.md``. The ``command-help`` directive prints an ``orbit-env`` subcommand's ``--help``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms import SphinxTransform
from myst_parser.parsers.sphinx_ import MystParser
from sphinx.util.docutils import SphinxDirective, new_document

DOCS = Path(__file__).resolve().parents[1]
REPO = DOCS.parent
GENERATED = DOCS / "_generated"
ENV_MODULE = "orbit_env.env"        # its module docstring is the env card
SCENARIOS_V2_PAGE = DOCS / "scenarios-v2.md"
PACKAGES = ("orbit_env", "agents", "train", "leaderboard")  # whose docstrings are Markdown
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
V2_CARD = re.compile(r"^### (\S+) — ")      # a card's heading in scenarios-v2.md
KEY_LINE = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*=\s*(.*?)\s*(?:#\s*(.*))?$")
SECTION_LINE = re.compile(r"^\s*\[([\w.-]+)\]\s*(?:#.*)?$")


# ------------------------------------------------------------------------------------ Markdown docstrings


def _flatten_sections(node: nodes.Element) -> None:
    """Sections may not sit inside a class or function entry: each becomes a rubric and its body."""
    for child in list(node.children):
        if isinstance(child, nodes.Element):
            _flatten_sections(child)
        if isinstance(child, nodes.section):
            title = child[0]
            rubric = nodes.rubric(title.astext(), "", *title.children)
            child.parent.replace(child, [rubric, *child.children[1:]])


class MarkdownDirective(SphinxDirective):
    """``.. markdown::`` with Markdown content: parsed by MyST wherever it appears (autodoc writes reST)."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        source, line = self.get_source_info()
        document = new_document(source, self.state.document.settings)
        document.reporter.get_source_and_line = lambda li=0: (source, line + (li or 0))
        MystParser().parse("\n".join(self.content), document)
        container = nodes.container()
        container.extend(document.children)
        _flatten_sections(container)
        return list(container.children)


def markdown_docstrings(app, what, name, obj, options, lines: list[str]) -> None:
    """autodoc-process-docstring: hand our packages' docstrings to the Markdown directive."""
    if not name.split(".")[0] in PACKAGES or not lines:
        return
    if what == "module" and name == ENV_MODULE:
        text = ["The module docstring is the env card: {doc}`/_generated/env-card`."]
    else:
        text = list(lines)
    lines[:] = ["", ".. markdown::", "", *("   " + t if t.strip() else "" for t in text), ""]


# ------------------------------------------------------------------------------------------- the cards


def _write(path: Path, text: str) -> None:
    """Write only on change, so an incremental build rereads only what changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def env_card() -> str:
    import importlib

    module = importlib.import_module(ENV_MODULE)
    summary, _, body = module.__doc__.partition("\n")
    name = module.OrbitComputeEnv.metadata["name"]
    return (f"# The env card: {name}\n\n{summary}\n\nThis page is the module docstring of `{ENV_MODULE}`, "
            f"rendered as it is.\n{body}")


def _cell(text) -> str:
    return str(text).replace("|", "\\|")


def _value(value) -> str:
    """A value as the TOML file would spell it: strings quoted, booleans lower case."""
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else json.dumps(value)


def toml_comments(path: Path) -> tuple[str, dict[str, str]]:
    """The file's header comment and each ``section.key``'s trailing comment (its source)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    comments, section = {}, ""
    for line in lines:
        if m := SECTION_LINE.match(line):
            section = m.group(1) + "."
        elif (m := KEY_LINE.match(line)) and m.group(3):
            comments[section + m.group(1)] = m.group(3)
    return " ".join(header), comments


def v2_cards(page: Path = SCENARIOS_V2_PAGE) -> dict[str, str]:
    """Each suite v2 card of scenarios-v2.md by scenario name: its heading's text and body."""
    cards, name = {}, None
    for line in page.read_text(encoding="utf-8").splitlines():
        if m := V2_CARD.match(line):
            name = m.group(1)
            cards[name] = [f"**Binds:** {line[m.end():]}.", ""]
        elif line.startswith("#"):
            name = None
        elif name:
            cards[name].append(line)
    return {k: "\n".join(v).strip() for k, v in cards.items()}


def scenario_card(name: str, cards: dict[str, str]) -> str:
    import dataclasses

    from orbit_env.scenario import Scenario, load_scenario

    scenario = load_scenario(name)
    path = Path(scenario.source)
    header, comments = toml_comments(path)
    given = tomllib.loads(path.read_text(encoding="utf-8"))
    suite = "v2" if path.parent.name == "v2" else "v1"
    out = [f"# {name}", "", f"*{_cell(scenario.description)}*", "",
           f"Suite {suite}, file `{path.relative_to(REPO).as_posix()}` (`orbit-env run {name}`).", "", header, ""]
    if name in cards:
        out += ["## What binds", "", "From its card in [Suite v2 scenarios](../../scenarios-v2.md), which has the "
                "tables it refers to:", "", cards[name], ""]
    out += ["## Values", "",
            "Every value the env uses: those the file sets with the source comment beside them, and the defaults "
            "it leaves (`orbit_env.scenario`).", ""]
    for f in dataclasses.fields(Scenario):
        part = getattr(scenario, f.name)
        if not dataclasses.is_dataclass(part):
            continue
        out += [f"### {f.name}", "", "| key | value | source | meaning |", "|---|---|---|---|"]
        for g in dataclasses.fields(part):
            key = f"{f.name}.{g.name}"
            value = getattr(part, g.name)
            in_file = g.name in given.get(f.name, {})
            source = comments.get(key, "") if in_file else "default"
            out.append(f"| `{key}` | `{_cell(_value(value))}` | {_cell(source)} | {_cell(g.metadata.get('doc', ''))} |")
        out.append("")
    return "\n".join(out)


def write_cards(app) -> None:
    """builder-inited: write the env card and one card per shipped scenario into docs/_generated/."""
    from orbit_env.scenario import shipped_scenarios

    _write(GENERATED / "env-card.md", env_card())
    cards = v2_cards()
    names = shipped_scenarios()
    missing = set(cards) - set(names)
    if missing:
        raise ValueError(f"{SCENARIOS_V2_PAGE}: cards for scenarios that are not shipped: {sorted(missing)}")
    for stale in (GENERATED / "scenarios").glob("*.md"):
        if stale.stem not in names:
            stale.unlink()
    for name in names:
        _write(GENERATED / "scenarios" / f"{name}.md", scenario_card(name, cards))


# ---------------------------------------------------------------------------- links to the repository


class RepositoryFileLinks(SphinxTransform):
    """A page's link to a Markdown file of the repository outside docs/ (``../leaderboard/LEADERBOARD.md``)
    becomes a download of that file, as links to other files outside docs/ already are."""

    default_priority = 700  # before the doctree-read event (880), where downloads are collected

    def apply(self) -> None:
        srcdir = Path(self.env.srcdir)
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst" or node.get("refdomain") != "doc" or node["reftarget"] in self.env.found_docs:
                continue
            files = [Path(node["reftarget"] + s) for s in self.config.source_suffix]
            found = [f for f in files if f.is_file() and not f.resolve().is_relative_to(srcdir)]
            if found:
                target = "/" + os.path.relpath(found[0], srcdir)
                link = addnodes.download_reference("", "", *node.children, refdoc=node["refdoc"], reftarget=target,
                                                   refexplicit=True)
                node.replace_self(link)


# ------------------------------------------------------------------------------------------ command help


class CommandHelp(SphinxDirective):
    """``command-help`` with a subcommand name (or none): that ``orbit-env`` parser's ``--help`` text."""

    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        from orbit_env.cli import build_parser

        parser = build_parser()
        if self.arguments:
            sub = next(a for a in parser._actions if a.dest == "command")
            if self.arguments[0] not in sub.choices:
                raise self.error(f"no orbit-env subcommand {self.arguments[0]!r}; there are {', '.join(sub.choices)}")
            parser = sub.choices[self.arguments[0]]
        block = nodes.literal_block(text=parser.format_help().rstrip())
        block["language"] = "text"
        return [block]


def setup(app):
    app.add_directive("markdown", MarkdownDirective)
    app.add_directive("command-help", CommandHelp)
    app.add_transform(RepositoryFileLinks)
    app.connect("builder-inited", write_cards)
    app.connect("autodoc-process-docstring", markdown_docstrings)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
