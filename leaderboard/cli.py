"""The leaderboard's subcommands of ``orbit-env``: evaluate, leaderboard (the main job) and board."""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
from pathlib import Path

from leaderboard.bound_rows import BoundError
from leaderboard.evaluate import DEFAULT_TIMEOUT_S, EvaluationError, Summary

ROOT = Path(__file__).resolve().parents[1]  # the board files live under render.board_dir(suite) from here


def _common(sp: argparse.ArgumentParser, evaluates: bool = True) -> None:
    from leaderboard.suite import DEFAULT_SUITE, SPLITS, SUITES
    from orbit_env.cli import positive_float, positive_int

    sp.add_argument("--suite", default=DEFAULT_SUITE, choices=sorted(SUITES), help=f"benchmark suite (default {DEFAULT_SUITE}; v1 is the first board; smoke is a 1-minute check)")
    sp.add_argument("--split", choices=SPLITS, help="seed split: test (the board) or dev (for tuning); default test, dev with --power")
    sp.add_argument("--db", help="results database (default leaderboard/results.sqlite, or $ORBIT_ENV_RESULTS)")
    if evaluates:
        sp.add_argument("--workers", type=positive_int, help="parallel worker processes (default: one per core, or per CPU of the Ray cluster)")
        sp.add_argument("--ray-address", help="run the workers on a Ray cluster (host:port, auto, or local for a Ray instance here); needs the [ray] extra, see docs/ray.md")
        sp.add_argument("--timeout", type=positive_float, default=DEFAULT_TIMEOUT_S, help=f"seconds an episode may take before it counts as a failure (default {DEFAULT_TIMEOUT_S:g})")
        sp.add_argument("--retry-failed", action="store_true", help="evaluate entries with recorded failures again")
        sp.add_argument("--quiet", action="store_true", help="no progress bar")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _split(args) -> str:
    return args.split or ("dev" if getattr(args, "power", False) else "test")


def _run(args, entries, scenarios=None, bounds=True) -> Summary:
    """Evaluate ``entries``; on a paired suite, also solve the bounds its board needs (unless ``bounds`` is off)."""
    from leaderboard.bound_rows import record_bounds
    from leaderboard.evaluate import check_settings, default_workers, evaluate
    from leaderboard.store import Store
    from leaderboard.suite import get_suite

    check_settings(args.workers, args.timeout)  # before the store is opened: bad settings change nothing
    signal.signal(signal.SIGTERM, _interrupt)  # a terminated evaluation stops its workers and keeps its rows
    suite = get_suite(args.suite)
    workers, pool = args.workers, {}
    if args.ray_address:
        from leaderboard.ray_pool import RayWorker, connect

        workers, pool = workers or connect(args.ray_address), {"spawn_worker": RayWorker}
    store = Store(args.db)
    try:
        summary = evaluate(entries, suite, _split(args), store, workers=workers, timeout_s=args.timeout,
                           scenarios=scenarios, retry_failed=args.retry_failed, progress=not args.quiet, **pool)  # fmt: skip
        if suite.paired and bounds:
            record_bounds(store, suite, _split(args), scenarios=scenarios, workers=args.workers or default_workers(), progress=not args.quiet)
        return summary
    finally:
        store.close()


def _board(args, current=()):
    from leaderboard.board import build_board
    from leaderboard.store import Store
    from leaderboard.suite import get_suite

    store = Store(args.db, readonly=True)  # the board only reads: a mistyped --db creates nothing
    try:
        if store.missing:
            print(f"note: {store.path} does not exist: nothing is recorded there yet", file=sys.stderr)
        return build_board(store, get_suite(args.suite), _split(args), current)
    finally:
        store.close()


def _user_errors(cmd):
    """Bad input (unknown policy, invalid submission, unusable database) or an evaluation that cannot go on
    is a message and exit code 2, not a traceback."""

    @functools.wraps(cmd)
    def wrapped(args) -> int:
        try:
            return cmd(args)
        except (ValueError, EvaluationError, BoundError) as e:
            print(f"orbit-env: error: {e}", file=sys.stderr)
            return 2
        except OSError as e:  # e.g. --db under /proc or in a directory that cannot be created
            print(f"orbit-env: error: cannot use {e.filename or args.db}: {e.strerror or e}", file=sys.stderr)
            return 2

    return wrapped


def _output_dir(path) -> None:
    """Check, before any work, that the board's files can be written to ``path`` (created if missing)."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot write the board to {path}: {e.strerror}") from None
    if not os.access(path, os.W_OK):
        raise ValueError(f"cannot write the board to {path}: the directory is not writable")


def _summary(s: Summary) -> str:
    failed = f", {s.failed} failed" + (f" ({s.skipped} skipped after a failure)" if s.skipped else "") if s.failed else ""
    return f"evaluated {s.ok} episodes{failed} in {s.wall_s:.0f} s; {s.already} were already recorded"


@_user_errors
def cmd_evaluate(args) -> int:
    from leaderboard.entries import resolve, unique
    from leaderboard.render import main_table, md_table, subset_note, unranked_table

    entries = unique([resolve(p) for p in args.policy])
    summary = _run(args, entries, args.scenario)
    board = _board(args)
    print(_summary(summary))
    if board.note:
        print(f"note: {board.note}")
    mine = {e.name for e in entries}
    header, rows = main_table(board)
    print("\n".join(md_table((header, [r for r in rows if not args.only or r[1].rstrip(" †‡") in mine]))))
    if note := subset_note(board):
        print("\n" + note)
    header, rows = unranked_table(board)
    rows = [r for r in rows if r[0].rstrip(" †‡") in mine]
    if rows:
        print("\n" + "\n".join(md_table((header, rows))))
    return 1 if summary.failed else 0


def _power(board) -> int:
    from leaderboard.board import power_table
    from leaderboard.render import power_md

    if not board.best:
        print(f"orbit-env: error: no baseline has results on every {board.split} episode of suite {board.suite.name}; "
              f"run `orbit-env leaderboard --suite {board.suite.name} --power` first", file=sys.stderr)  # fmt: skip
        return 2
    print(power_md(board, power_table(board)))
    return 0


@_user_errors
def cmd_leaderboard(args) -> int:
    from leaderboard.entries import registered
    from leaderboard.render import board_dir, markdown, write
    from leaderboard.suite import get_suite

    out = args.out or (ROOT / board_dir(get_suite(args.suite)) if _split(args) == "test" else None)
    if out and not args.no_write:
        _output_dir(out)
    entries = registered(suite=args.suite)
    summary = _run(args, entries, bounds=not args.power)
    board = _board(args, entries)
    if args.power:
        print(_summary(summary), file=sys.stderr)
        return _power(board)
    print(markdown(board))
    if out and not args.no_write:
        paths = write(board, out)
        print(f"wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    print(_summary(summary), file=sys.stderr)
    return 0


@_user_errors
def cmd_board(args) -> int:
    from leaderboard.entries import registered
    from leaderboard.render import markdown, write

    if args.write:
        _output_dir(args.write)
    entries = registered(suite=args.suite)
    board = _board(args, entries)
    if args.power:
        return _power(board)
    print(markdown(board))
    if args.write:
        write(board, args.write)
    return 0


POWER_HELP = ("print, instead of the board, the paired seeds per scenario that detect a 2%% difference from the best "
              "baseline with 80%% power, from the spread of the stored results (of the dev split unless --split)")


def add_commands(sub) -> None:
    """Add evaluate, leaderboard and board to the ``orbit-env`` subparsers."""
    from agents.heuristics import HEURISTICS

    sp = sub.add_parser(
        "evaluate",
        help="evaluate policies (baselines or submission folders) on the suite and record the results",
        description="Run each policy on every episode of the suite split in parallel worker processes, record each "
        "episode in the results database (an interrupted run resumes), and print the ranking.",
    )
    sp.add_argument("policy", nargs="+", help=f"a baseline ({', '.join(HEURISTICS)}) or a submission folder (see leaderboard/SUBMISSIONS.md)")
    sp.add_argument("--scenario", action="append", help="only this scenario of the suite (repeatable)")
    sp.add_argument("--only", action="store_true", help="print only the evaluated policies, not the whole ranking")
    _common(sp)
    sp.set_defaults(func=cmd_evaluate)

    sp = sub.add_parser(
        "leaderboard",
        help="evaluate every baseline and submission on the suite (default v2) and print the board (the main job)",
        description="Evaluate what is registered (the baselines and leaderboard/submissions/*) that is not yet recorded "
        "(on suite v2, also solve each episode's upper bound), print the board, and for the test split write "
        "LEADERBOARD.md, README_SECTION.md and leaderboard.html (to leaderboard/ for v2, leaderboard/v1/ for v1).",
    )
    _common(sp)
    sp.add_argument("--power", action="store_true", help=POWER_HELP + "; evaluates what is missing first")
    sp.add_argument("--out", help="directory for LEADERBOARD.md, README_SECTION.md and leaderboard.html (default: the suite's folder, for the test split)")
    sp.add_argument("--no-write", action="store_true", help="print the board without writing files")
    sp.set_defaults(func=cmd_leaderboard)

    sp = sub.add_parser("board", help="print the stored board without evaluating anything")
    _common(sp, evaluates=False)
    sp.add_argument("--power", action="store_true", help=POWER_HELP)
    sp.add_argument("--write", metavar="DIR", help="also write LEADERBOARD.md, README_SECTION.md and leaderboard.html to DIR")
    sp.set_defaults(func=cmd_board)
