"""Sphinx configuration of the orbit-env documentation site.

Build (from the repository root, after ``pip install -e ".[docs]"``):
``sphinx-build -W --keep-going -b html docs docs/_build/html``.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS.parent), str(DOCS / "_ext")]  # this checkout's packages, then the site's extension

project = "orbit-env"
author = "the orbit-env authors"
copyright = "the orbit-env authors, MIT licence"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "orbit_docs",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
suppress_warnings = ["misc.highlighting_failure"]  # the pages' JSON with "..." elisions stays plain text
myst_heading_anchors = 3                 # the pages link to each other's sections by slug

autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_inherit_docstrings = False       # PettingZoo's and Gymnasium's own docstrings are theirs, in reST
autodoc_mock_imports = ["torch", "stable_baselines3", "sb3_contrib"]  # the train extra is optional for the site

html_theme = "furo"
html_title = "orbit-env"
