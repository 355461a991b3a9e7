"""The orbit-env benchmark: suite, evaluator, statistics, results store, rendered board, submissions.

``orbit-env leaderboard`` evaluates every registered entry (the baseline heuristics and the folders in
``leaderboard/submissions/``) on suite v2 (``--suite v1``: the first board, reproducible) and prints the board;
see README_SECTION.md and SUBMISSIONS.md.
"""
