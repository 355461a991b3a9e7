"""Ray as the engine for more than one machine, on a local two-CPU Ray instance: RLlib training that
checkpoints, resumes and exports a policy agents.learned plays with the RLlib module's own greedy actions,
and leaderboard evaluation sharded over Ray whose rows (and failure reasons) equal the local evaluator's."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.rllib")
torch = pytest.importorskip("torch")

from agents.learned import LearnedPolicy  # noqa: E402
from agents.policy import play  # noqa: E402
from leaderboard.board import build_board  # noqa: E402
from leaderboard.entries import resolve  # noqa: E402
from leaderboard.evaluate import evaluate  # noqa: E402
from agents.confined import UnsafeFileError  # noqa: E402
from leaderboard.ray_pool import RayWorker, RemoteWorker, folder_files  # noqa: E402
from leaderboard.store import Store  # noqa: E402
from orbit_env.batch import BatchEnv  # noqa: E402
from test_leaderboard import BAD_WORKER, TINY, network, rows_of, submission  # noqa: E402
from train import rllib  # noqa: E402
from train.config import EnvConfig, PPOConfig, RunConfig, TrainConfig  # noqa: E402
from train.ppo import RunError  # noqa: E402

SCENARIO = "three-body-12"
CYCLES = 32  # short episodes: a rollout of 2 envs x 32 steps x 12 satellites = 768 agent-steps


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def tiny(timesteps: int) -> TrainConfig:
    return TrainConfig(
        scenario=SCENARIO, timesteps=timesteps, env=EnvConfig(n_envs=2, overrides={"episode.max_cycles": CYCLES}),
        ppo=PPOConfig(n_steps=CYCLES, batch_size=256, n_epochs=2, net_arch=[32, 32]),
        run=RunConfig(checkpoint_every=768, keep_checkpoints=2, baseline_episodes=1, baselines=["random"]),
    )  # fmt: skip


def test_rllib_trains_checkpoints_resumes_and_exports_a_policy_the_board_plays(tmp_path):
    out = tmp_path / "run"
    first = rllib.train(tiny(2 * 768), out, seed=3, progress=False, env_runners=1)
    assert first.timesteps == 2 * 768
    assert [c.name for c in rllib.checkpoints(out)] == ["ckpt_000000000768", "ckpt_000000001536"]
    with pytest.raises(RunError, match="already holds a run"):
        rllib.train(tiny(4 * 768), out, seed=3, progress=False)
    with pytest.raises(RunError, match="started with seed 3"):
        rllib.train(tiny(4 * 768), out, seed=4, resume=True, progress=False)
    before = rllib.load_module(rllib.checkpoints(out)[-1]).get_state()
    second = rllib.train(tiny(4 * 768), out, seed=3, resume=True, progress=False, env_runners=1)
    assert second.timesteps == 4 * 768
    assert [c.name for c in rllib.checkpoints(out)] == ["ckpt_000000002304", "ckpt_000000003072"]  # keep_checkpoints = 2
    after = rllib.load_module(rllib.checkpoints(out)[-1]).get_state()
    assert any(not np.array_equal(before[k], after[k]) for k in before), "the resumed run did not train"
    curve = (out / "curve.csv").read_text().splitlines()
    assert [int(r.split(",")[1]) for r in curve[1:]] == list(range(1, len(curve)))  # episodes numbered across the resume
    assert len(curve) - 1 == 4 * 768 // (12 * CYCLES)  # every episode of 32 steps x 12 satellites, once

    spec = json.loads((out / "policy.json").read_text())
    assert spec["trained_on"]["timesteps"] == 4 * 768 and spec["trained_on"]["backend"] == "rllib"
    assert spec["network"] == {"layers": ["pi.0", "pi.1"], "output": "logits", "activation": "tanh"}

    env = BatchEnv(SCENARIO, 2, max_cycles=CYCLES, autoreset_mode="disabled")
    policy = LearnedPolicy.for_env(env, path=out / "policy.json")
    module = rllib.load_module(rllib.checkpoints(out)[-1])
    seen = []

    def greedy_check(actions, t):
        obs, mask = env.observations.reshape(-1, env.layout.size), env.action_masks.reshape(-1, env.n_actions)
        batch = {"obs": {"observations": torch.from_numpy(obs.copy()), "action_mask": torch.from_numpy(mask.astype(np.float32))}}
        with torch.no_grad():
            logits = module.forward_inference(batch)["action_dist_inputs"].numpy()
        np.testing.assert_array_equal(np.asarray(actions).reshape(-1), logits.argmax(-1))
        seen.append(int(mask.sum()))
        return actions

    metrics = play(policy, env, [7, 8], check=greedy_check)
    assert len(seen) == CYCLES and metrics["delivered_value"].shape == (2,)


def test_rllib_refuses_what_it_cannot_train():
    from train.rllib import algorithm_config

    cfg = tiny(768)
    for change in ({"ppo": PPOConfig(critic="central")}, {"env": EnvConfig(team_weight=0.5)}):
        with pytest.raises(RunError, match="does not support"):
            algorithm_config(TrainConfig(**{**cfg.__dict__, **change}), 0, 0)


def test_sharded_leaderboard_rows_and_failures_equal_the_local_evaluators(tmp_path):
    subs = tmp_path / "subs"
    net = submission(subs, "net", {"spec": "policy.json"}, kind="safetensors")
    network(net)
    raises = submission(subs, "raises", {"heuristic": "raises", "params": {}})
    dies = submission(subs, "dies", {"heuristic": "dies", "params": {}})
    entries = [resolve("edf-safe"), resolve("random"), resolve(str(net)), resolve(str(raises)), resolve(str(dies))]
    results = {}
    for where, pool in (("local", {}), ("ray", {"spawn_worker": RayWorker})):
        store = Store(tmp_path / f"{where}.sqlite")
        summary = evaluate(entries, TINY, "test", store, workers=2, progress=False, worker_cmd=BAD_WORKER, **pool)
        board = build_board(store, TINY, "test")
        store.close()
        results[where] = (summary.ok, summary.failed, {e.name: (e.status, e.reason) for e in board.entries})
    assert results["ray"] == results["local"]
    assert rows_of(tmp_path / "ray.sqlite", TINY) == rows_of(tmp_path / "local.sqlite", TINY)
    status = results["ray"][2]
    assert status["net"] == ("ranked", "") and status["edf-safe"] == ("ranked", "")
    assert "the worker process died (exit code 3): about to exit" in status["dies"][1]
    assert "crashed at step 2: RuntimeError: the policy blew up" in status["raises"][1]


TINY_TOML = f"""
scenario = "{SCENARIO}"
timesteps = 768
[env]
n_envs = 2
overrides = {{ "episode.max_cycles" = {CYCLES} }}
[ppo]
n_steps = {CYCLES}
batch_size = 256
n_epochs = 1
net_arch = [16]
activation = "relu"
[run]
baseline_episodes = 1
baselines = ["random"]
"""


def test_the_command_lines_train_export_and_evaluate_through_ray(tmp_path, capsys):
    from orbit_env.cli import main
    from train.export import main as export_main

    (tmp_path / "tiny.toml").write_text(TINY_TOML)
    run = tmp_path / "run"
    assert main(["train", "--backend", "rllib", "--config", str(tmp_path / "tiny.toml"), "--out", str(run), "--quiet"]) == 0
    assert main(["train", "--config", str(tmp_path / "tiny.toml"), "--address", "auto", "--out", str(tmp_path / "x")]) == 2
    assert "--address is for --backend rllib" in capsys.readouterr().err
    assert export_main([str(run), str(tmp_path / "picked.safetensors"), "--checkpoint", str(rllib.checkpoints(run)[0])]) == 0
    picked = json.loads((tmp_path / "picked.json").read_text())
    assert picked["network"] == {"layers": ["pi.0"], "output": "logits", "activation": "relu"}
    assert picked["weights"]["sha256"] == json.loads((run / "policy.json").read_text())["weights"]["sha256"]  # one checkpoint: the same

    for db, extra in (("local.sqlite", []), ("ray.sqlite", ["--ray-address", "local"])):
        args = ["evaluate", "edf-safe", "greedy", "--suite", "smoke", "--scenario", SCENARIO, "--db", str(tmp_path / db), "--workers", "2", "--quiet"]
        assert main(args + extra) == 0
    from leaderboard.suite import SMOKE

    assert rows_of(tmp_path / "ray.sqlite", SMOKE) == rows_of(tmp_path / "local.sqlite", SMOKE) != []


def test_a_remote_worker_plays_the_shipped_copy_of_a_submission_and_nothing_outside_it(tmp_path):
    net = submission(tmp_path / "subs", "net", {"spec": "policy.json"}, kind="safetensors")
    network(net)
    entry = resolve(str(net))
    remote = RemoteWorker(None)  # the actor's class, here in this process
    try:
        with pytest.raises(UnsafeFileError, match="must be a relative path inside its folder"):
            remote.receive("elsewhere", {"../escaped.json": b"{}"})
        assert not (remote.root / "escaped.json").exists()
        remote.receive(str(net), folder_files(str(net)))
        shutil.rmtree(net)  # the worker can only be reading the copy
        task = {"id": 5, "entry": entry.task(), "scenario": SCENARIO, "seeds": [1000], "max_cycles": 8}
        assert remote.write((json.dumps(task) + "\n").encode())
        out = b""
        while b'"id": 5' not in out:
            chunk = remote.read()
            assert chunk, remote.death()
            out += chunk
    finally:
        remote.close()
    reply = json.loads(out.splitlines()[-1])
    assert reply["status"] == "ok" and len(reply["metrics"]) == 1
    assert not remote.root.exists()  # closing removes the copies
