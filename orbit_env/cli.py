"""The ``orbit-env`` command line: list scenarios, run an episode, check conformance, train, and the
leaderboard's evaluate / leaderboard / board (defined in ``leaderboard.cli``)."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import warnings
from pathlib import Path
from typing import Sequence


def _number(kind, lowest, strict: bool):
    """An argparse type: a ``kind`` number above (``strict``) or at least ``lowest``."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if value != value or (value <= lowest if strict else value < lowest) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text} is not {'above' if strict else 'at least'} {lowest}")
        return value

    return parse


positive_int = _number(int, 0, strict=True)
non_negative_int = _number(int, 0, strict=False)
positive_float = _number(float, 0.0, strict=True)


class UsageError(Exception):
    """Arguments that cannot work together or a path that cannot be used: exit code 2 before any work."""


def _env_kwargs(args, default_steps: int | None = None) -> dict:
    """Scenario, overrides, TLE file and episode length from the arguments. The length is given once:
    ``--steps`` and ``--set episode.max_cycles=N`` together are a usage error."""
    overrides = {}
    for item in args.set or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE (e.g. orbit.altitude_km=600), got {item!r}")
        import tomllib

        try:
            overrides[key] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            overrides[key] = raw  # a bare word is a string
    if args.skip_bad_tles:
        overrides["orbit.skip_bad_satellites"] = True
    steps = args.steps
    if "episode.max_cycles" in overrides:
        if steps is not None:
            raise UsageError(
                f"the episode length is given twice (--steps {steps} and --set episode.max_cycles="
                f"{overrides['episode.max_cycles']!r}): give one"
            )
    elif steps is None:
        steps = default_steps
    return {"scenario": args.scenario, "overrides": overrides, "tle_file": args.tle, "max_cycles": steps}


def _check_output(path: str, suffix: str, flag: str = "--out") -> None:
    """An output file must be writable where it is named, checked before the work that produces it."""
    p = Path(path)
    if p.suffix.lower() != suffix:
        raise UsageError(f"{flag} {path}: expected a {suffix} file name")
    parent = p.parent
    if p.is_dir():
        raise UsageError(f"{flag} {path} is a directory; give a file name")
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"{flag} {path}: cannot write there (permission denied)")


CHECK_STEPS = 60  # default episode length of `orbit-env check`


def cmd_scenarios(args) -> int:
    from orbit_env.ephemeris import satellite_count
    from orbit_env.scenario import load_scenario, shipped_scenarios

    for name in shipped_scenarios():
        s = load_scenario(name)
        print(f"{name:<22} {satellite_count(s):>5} sats  {s.description}")
    return 0


def cmd_run(args) -> int:
    from tqdm import tqdm

    from agents import make_policy
    from agents.policy import act_on
    from orbit_env.env import OrbitComputeEnv
    from orbit_env.physics.thermal import KELVIN
    from orbit_env.render import render_rgb
    from orbit_env.timeline import Timeline
    from orbit_env.video import check_video_path, frame_every, write_video

    if args.out is not None:
        if args.render != "rgb_array":
            raise UsageError("--out writes the last rgb_array frame: add --render rgb_array")
        _check_output(args.out, ".png", "--out")
    if args.video is not None:
        try:
            check_video_path(args.video)
        except ValueError as e:
            raise UsageError(f"--video {e}") from None
        _check_output(args.video, Path(args.video).suffix.lower(), "--video")
    if args.timeline is not None:
        _check_output(args.timeline, ".png", "--timeline")
    env = OrbitComputeEnv(render_mode=args.render if args.render != "none" else None, **_env_kwargs(args))
    if args.policy.endswith((".json", ".safetensors")):
        from agents.learned import PolicyFileError, load_policy

        try:
            policy = load_policy(args.policy, env)
        except (PolicyFileError, ImportError) as e:
            print(f"orbit-env: error: cannot run the policy {args.policy}: {e}", file=sys.stderr)
            return 2
        policy.reset(args.seed)
    else:
        try:
            policy = make_policy(args.policy, env, seed=args.seed)
        except ValueError as e:
            print(f"orbit-env: error: {e}; or give an exported policy's .json spec", file=sys.stderr)
            return 2
    obs, infos = env.reset(seed=args.seed)
    timeline = Timeline(env.params) if args.video or args.timeline else None
    every, frames = frame_every(env.max_cycles), []
    max_temp = min_soc = None
    with tqdm(total=env.max_cycles, desc=f"{env.scenario.name} / {args.policy}", unit="step", disable=args.quiet) as bar:
        while env.agents:
            if getattr(policy, "forecast_steps", 0):  # a planner: it also reads the forecast (orbit_env.forecast)
                actions = dict(zip(env.possible_agents, act_on(policy, env.batch)[0].tolist()))
            else:
                actions = policy.act(obs, infos)
            obs, rewards, terms, truncs, infos = env.step(actions)
            if timeline is not None:
                timeline.record(env.sim, env.last_step)
            if args.video and (len(timeline) % every == 0 or not env.agents):
                frames.append(render_rgb(env.params, env.sim, env.ephemeris, timeline))
            soc = env.sim.energy_wh / env.scenario.hardware.battery_wh
            max_temp = max(max_temp or -1e9, float(env.last_step.gpu_temp_c.max()))
            min_soc = min(min_soc if min_soc is not None else 1.0, float(soc.min()))
            if args.render == "ansi" and int(env.sim.t[0]) % args.render_every == 0:
                tqdm.write(env.render())
            bar.update(1)
    m = env.metrics()
    print(f"\nscenario {env.scenario.name}, policy {args.policy}, seed {args.seed}, {int(env.sim.t[0])} steps of {env.params.dt:g} s")
    print(f"  jobs: submitted {m['jobs_submitted']}, delivered {m['jobs_delivered']:.0f} "
          f"({m['deadline_hits']:.0f} by deadline), dropped {m['jobs_dropped']:.0f}, still queued {m['jobs_queued'] + m['jobs_running']}")
    print(f"  delivered value {m['delivered_value']:.2f} reference GPU-hours")
    print(f"  energy: solar {m['energy_solar_wh'] / 1e3:.1f} kWh, loads {m['energy_load_wh'] / 1e3:.1f} kWh, "
          f"GPUs {m['energy_gpu_wh'] / 1e3:.1f} kWh, shunted {m['energy_shunt_wh'] / 1e3:.1f} kWh; lowest SoC {min_soc:.0%}")
    print(f"  safe-mode entries {m['safe_mode_entries']:.0f}, thermal shutdowns {m['thermal_shutdowns']:.0f}, "
          f"upsets {m['upsets']:.0f}, hottest GPU {max_temp:.1f} C, final mean node "
          f"{float((env.sim.temp_k - KELVIN).mean()):.1f} C")
    print(f"  invalid actions {m['invalid_actions']:.0f}, ISL transfers {m['isl_transfers']:.0f} ({m['isl_aborts']:.0f} aborted)")
    if args.out:
        import matplotlib.pyplot as plt

        try:
            plt.imsave(args.out, env.render())
        except OSError as e:
            print(f"orbit-env: error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
            return 1
        print(f"  last frame written to {args.out}")
    if args.video:
        write_video(frames, args.video)
        print(f"  {len(frames)} frames (one every {every} steps) written to {args.video}")
    if args.timeline:
        timeline.plot(args.timeline)
        print(f"  timeline written to {args.timeline}")
    env.close()
    return 0


def cmd_check(args) -> int:
    from orbit_env.conformance import format_table, run_checks

    from orbit_env.scenario import load_scenario

    kw = _env_kwargs(args, default_steps=CHECK_STEPS)
    scenario = kw.pop("scenario")
    if kw["max_cycles"] is None:  # the length came from --set: validate it (and the rest) before any check runs
        kw["max_cycles"] = load_scenario(scenario, kw["overrides"], kw["tle_file"]).episode.max_cycles
        del kw["overrides"]["episode.max_cycles"]
    results = run_checks(scenario, episodes=args.episodes, **kw)
    print(format_table(str(scenario), results))
    return 0 if all(r.passed for r in results) else 1


def cmd_train(args) -> int:
    """Train PPO on a scenario (see docs/training.md): MaskablePPO (the [train] extra), RLlib (the [ray] extra,
    docs/ray.md), or PPO from scratch with the set network on the universal layout (train/ppo_scratch.py)."""
    if args.backend == "ppo-scratch" and not args.address:
        return _train_scratch(args)
    from train.config import ConfigError, TrainConfig, load_config
    from train.device import DeviceError
    from train.ppo import RunError, train

    if args.address and args.backend != "rllib":
        print("orbit-env: error: --address is for --backend rllib (a Ray cluster); the sb3 backend trains on this machine", file=sys.stderr)
        return 2
    if args.device and args.backend == "rllib":
        print("orbit-env: error: --device is for --backend sb3 or ppo-scratch; RLlib places its learners itself", file=sys.stderr)
        return 2
    try:
        if args.backend == "rllib" and args.config is None:  # train/configs/ are tuned for SB3 (BC warm starts, central critics)
            cfg = TrainConfig(scenario=args.scenario or TrainConfig.scenario)
        else:
            cfg = load_config(args.scenario, args.config)
        if args.timesteps is not None:
            cfg = dataclasses.replace(cfg, timesteps=args.timesteps)
        out = args.out or f"runs/{cfg.scenario}{'-rllib' if args.backend == 'rllib' else ''}-seed{args.seed}"
        if args.backend == "rllib":
            try:
                from train import rllib
            except ImportError as e:
                raise RunError(f"--backend rllib needs the ray extra (pip install -e \".[ray]\"): {e}") from None
            result = rllib.train(cfg, out, seed=args.seed, resume=args.resume, progress=not args.quiet, address=args.address)
        else:
            result = train(cfg, out, seed=args.seed, resume=args.resume, progress=not args.quiet, device=args.device or "auto")
    except (ConfigError, RunError, DeviceError) as e:
        print(f"orbit-env: error: {e}", file=sys.stderr)
        return 2
    phases = ", ".join(f"{name.removesuffix('_s')} {t:.0f} s" for name, t in result.phases.items())
    print(f"trained {result.timesteps:,} agent-steps in {result.wall_s:.0f} s ({result.steps_per_s:,.0f} steps/s)"
          f"{f' on {result.device}' if result.device else ''}{f'; wall time of the run: {phases}' if phases else ''}; "
          f"policy {result.policy_path}, curve {result.out / 'curve.png'}")  # fmt: skip
    return 0


def _train_scratch(args) -> int:
    """``--backend ppo-scratch``: train.ppo_scratch with train/configs/scratch/SCENARIO.toml (or --config)."""
    from pathlib import Path

    from train.ppo_scratch import main as scratch

    if args.resume:
        print("orbit-env: error: --resume is not supported with --backend ppo-scratch", file=sys.stderr)
        return 2
    config = args.config or (Path(__file__).parents[1] / "train" / "configs" / "scratch" / f"{args.scenario}.toml")
    argv = ["train", "--seed", str(args.seed), "--out", args.out or f"runs/{args.scenario or 'scratch'}-scratch-seed{args.seed}"]
    argv += ["--config", str(config)] if Path(config).is_file() else []
    argv += ["--scenario", args.scenario] if args.scenario else []
    argv += ["--agent-steps", str(args.timesteps)] if args.timesteps else []
    argv += ["--device", args.device] if args.device else []
    return scratch(argv + (["--quiet"] if args.quiet else []))


def build_parser() -> argparse.ArgumentParser:
    from agents import HEURISTICS

    p = argparse.ArgumentParser(prog="orbit-env", description="Satellites with GPUs scheduling training jobs in orbit.")
    sub = p.add_subparsers(dest="command", required=True)

    def scenario_args(sp, default="three-body-12"):
        sp.add_argument("scenario", nargs="?", default=default, help=f"shipped scenario name or path to a TOML file (default {default})")
        sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario value, e.g. --set orbit.altitude_km=600")
        sp.add_argument("--tle", metavar="FILE", help="use the orbits in this TLE file; the epoch is then the file's "
                        "median element epoch unless --set orbit.epoch=... is given")
        sp.add_argument("--skip-bad-tles", action="store_true", help="drop TLE satellites with unusable elements or that "
                        "cannot be propagated over the window (counted in a warning) instead of stopping")

    sp = sub.add_parser("scenarios", help="list the shipped scenarios")
    sp.set_defaults(func=cmd_scenarios)

    sp = sub.add_parser("run", help="run one episode with a policy and print its summary")
    scenario_args(sp)
    sp.add_argument("--policy", default="greedy", metavar="NAME|SPEC.json",
                    help=f"a heuristic ({', '.join(HEURISTICS)}) or an exported policy's .json spec (default greedy)")
    sp.add_argument("--seed", type=non_negative_int, default=0, help="episode seed (default 0)")
    sp.add_argument("--steps", type=positive_int, default=None,
                    help="episode length in steps (default: the scenario's max_cycles; not with --set episode.max_cycles)")
    sp.add_argument("--render", choices=["none", "ansi", "rgb_array"], default="none", help="render while running")
    sp.add_argument("--render-every", type=positive_int, default=60, help="with --render ansi: print every N steps (default 60)")
    sp.add_argument("--out", help="with --render rgb_array: write the last frame to this PNG (checked before the episode runs)")
    sp.add_argument("--video", metavar="FILE", help="write the episode as a video: .gif, or .mp4 with the video extra "
                    "(pip install -e \".[video]\"); at most 240 frames, the map and every satellite's activity so far")
    sp.add_argument("--timeline", metavar="FILE.png", help="write the episode's timeline: each satellite's activity "
                    "(run, uplink, downlink, send, checkpoint, safe mode, crash), battery and temperature over time")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_run)

    sp = sub.add_parser("check", help="run the PettingZoo conformance tests, determinism and invariants on a scenario")
    scenario_args(sp)
    sp.add_argument("--steps", type=positive_int, default=None,
                    help=f"episode length for the checks (default {CHECK_STEPS}; or --set episode.max_cycles, not both)")
    sp.add_argument("--episodes", type=positive_int, default=3, help="seeded episodes for the invariant check (default 3)")
    sp.set_defaults(func=cmd_check)

    sp = sub.add_parser("train", help="train a PPO policy on a scenario (needs the [train] extra)")
    sp.add_argument("--scenario", help="scenario to train on (default: the config's, else three-body-12); its config is train/configs/NAME.toml")
    sp.add_argument("--config", help="training config TOML (default: train/configs/SCENARIO.toml, else the defaults)")
    sp.add_argument("--timesteps", type=positive_int, help="total agent-steps (one per satellite per env step); default from the config")
    sp.add_argument("--seed", type=non_negative_int, default=0, help="seed of the run (default 0)")
    sp.add_argument("--out", help="run directory (default runs/SCENARIO-seedS, runs/SCENARIO-rllib-seedS with --backend rllib)")
    sp.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.add_argument("--backend", choices=("sb3", "rllib", "ppo-scratch"), default="sb3",
                    help="sb3: MaskablePPO on this machine (default); rllib: Ray RLlib PPO, needs the [ray] extra (docs/ray.md); "
                         "ppo-scratch: the set network on the universal layout (train/ppo_scratch.py, config "
                         "train/configs/scratch/SCENARIO.toml)")  # fmt: skip
    sp.add_argument("--address", help="with --backend rllib: the Ray cluster to train on (host:port, or auto); default a local Ray instance")
    sp.add_argument("--device", metavar="auto|cpu|cuda",
                    help="where the network trains (default auto: a CUDA GPU when torch sees one, else the CPU; "
                         "cpu for bit-for-bit reproducible weights); train/device.py")  # fmt: skip
    sp.set_defaults(func=cmd_train)

    from leaderboard.cli import add_commands

    add_commands(sub)
    return p


def _show_warning(default, message, category, filename, lineno, file=None, line=None) -> None:
    """A user's TLE warning as ``orbit-env: warning: ...`` (it is about their input, not our code's line);
    other warnings go to ``default``."""
    from orbit_env.orbits import TleWarning

    if issubclass(category, TleWarning):
        print(f"orbit-env: warning: {message}", file=sys.stderr if file is None else file)
    else:
        default(message, category, filename, lineno, file, line)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from orbit_env.scenario import ScenarioError

    try:
        with warnings.catch_warnings():
            warnings.showwarning = functools.partial(_show_warning, warnings.showwarning)
            return args.func(args)
    except (ScenarioError, UsageError) as e:
        print(f"orbit-env: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("orbit-env: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
