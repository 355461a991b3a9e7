"""Submit to the board: a heuristic submission folder, evaluated beside two baselines on a tiny suite.

Run it from the repository root: ``python docs/tutorials/board.py [WORK_DIR]``. It uses the ``smoke``
suite (two scenarios, two dev seeds each, six-hour episodes) and its own results database, so nothing of
the real board is touched. For the board itself put the folder under ``leaderboard/submissions/`` and run
``orbit-env evaluate leaderboard/submissions/NAME --split dev`` while tuning, then ``orbit-env leaderboard``.
"""

import sys
import tempfile
from pathlib import Path

from orbit_env.cli import main

work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
folder = work / "my-edf-safe"
folder.mkdir(parents=True, exist_ok=True)

# A submission is data: this TOML names a shipped heuristic and its parameters (leaderboard/SUBMISSIONS.md
# lists every field; a safetensors submission names its policy.json instead).
(folder / "submission.toml").write_text('''
[submission]
name = "my-edf-safe"
kind = "heuristic"
authors = ["a tutorial reader"]
description = "edf-safe keeping the battery 10% above safe mode."
orbit_env_version = "0.1.0"
env_modified = false
tuned_on = "not tuned"
tuning = "soc_margin set by hand"
deterministic = true
hardware = "none (no training)"

[policy]
heuristic = "edf-safe"
params = { soc_margin = 0.1 }
''', encoding="utf-8")

db = str(work / "results.sqlite")
common = ["--suite", "smoke", "--split", "dev", "--db", db, "--workers", "1", "--quiet"]
# The evaluator runs each policy in worker processes and records every episode in the database (an
# interrupted run resumes). random and edf-safe set the scale: random = 0, edf-safe = 100 on this suite.
# It prints the ranking; `orbit-env board` with the same options prints it again from the database.
sys.exit(main(["evaluate", "random", "edf-safe", str(folder), *common]))
