"""Train with PPO: a tiny MaskablePPO run, its exported policy loaded without SB3 and played.

Run it from the repository root: ``python docs/tutorials/ppo.py [RUN_DIR]`` (needs ``pip install -e
".[train]"``). The budget is a smoke test's (3,072 agent-steps on one-hour episodes), not a training run:
``orbit-env train --scenario three-body-12`` with ``train/configs/three-body-12.toml`` is the real one.
"""

import sys
import tempfile
from pathlib import Path

from agents.heuristics import make_policy
from agents.learned import load_policy
from agents.policy import play
from orbit_env.batch import BatchEnv
from train.config import config_from_dict
from train.ppo import train

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "run"
overrides = {"episode.max_cycles": 60, "episode.reward": "individual", "episode.dense_shaping": True}

# The config is what a TOML file in train/configs/ holds; keys left out take train/config.py's defaults.
cfg = config_from_dict({
    "scenario": "three-body-12",
    "timesteps": 3072,                           # agent-steps: one per satellite per env step
    "env": {"n_envs": 2, "overrides": overrides},  # 2 episodes x 12 satellites = 24 samples per step
    "ppo": {"n_steps": 64, "batch_size": 512, "n_epochs": 2, "net_arch": [32, 32]},
    "run": {"baseline_episodes": 1, "baselines": ["random", "edf-safe"]},
})
result = train(cfg, out, seed=0, progress=False)
print(f"trained {result.timesteps:,} agent-steps in {result.wall_s:.1f} s; exported {result.policy_path}")
print("the run directory:", sorted(p.name for p in out.iterdir()))

# The export is safetensors + a JSON spec: numpy loads it, no pickle and no SB3; the spec is checked
# against the env the policy is asked to play.
env = BatchEnv("three-body-12", num_envs=4, max_cycles=360)  # six hours: deliveries begin within four
spec = result.policy_path.with_suffix(".json")
for name, policy in {"ppo (tiny)": load_policy(spec, env), "edf-safe": make_policy("edf-safe", env)}.items():
    m = play(policy, env, seeds=range(4))
    print(f"{name:10} delivered {m['delivered_value'].mean():.2f} GPU-h per six-hour episode")
print(f"watch it: orbit-env run three-body-12 --policy {spec} --render ansi")
