"""Training (train/) and the learned-policy loader (agents/learned.py): small, seeded runs on CPU."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sb3_contrib")
pytest.importorskip("safetensors")

import torch  # noqa: E402

from agents import make_policy  # noqa: E402
from agents.learned import LearnedPolicy, PolicyFileError  # noqa: E402
from orbit_env.cli import main  # noqa: E402
from orbit_env.env import OrbitComputeEnv  # noqa: E402
from train import export  # noqa: E402
from train.device import DeviceError, pick_device  # noqa: E402
from train.config import BCConfig, ConfigError, EnvConfig, PPOConfig, RunConfig, TrainConfig, config_from_dict, load_config  # noqa: E402
from train.bc import clone, collect, warm_start  # noqa: E402
from train.ppo import RunError, build_env, build_model, checkpoints, load_checkpoint, train  # noqa: E402
from train.evaluate import delivered  # noqa: E402
from train.vec_env import make_vec_env  # noqa: E402
from sb3_contrib.common.maskable.utils import get_action_masks  # noqa: E402
from stable_baselines3.common.vec_env import VecNormalize  # noqa: E402

SCENARIO = "three-body-12"
SHORT = {"episode.max_cycles": 40, "episode.dense_shaping": True, "episode.reward": "individual"}
LEARN = {"episode.max_cycles": 120, "episode.dense_shaping": True, "episode.reward": "individual"}


def tiny_config(timesteps: int, overrides=SHORT, checkpoint_every: int = 10**9) -> TrainConfig:
    """2 episodes x 12 satellites, 64-step rollouts: 1,536 agent-steps per update."""
    return TrainConfig(
        scenario=SCENARIO,
        timesteps=timesteps,
        env=EnvConfig(n_envs=2, overrides=overrides),
        ppo=PPOConfig(n_steps=64, batch_size=512, n_epochs=2, net_arch=[32, 32]),
        run=RunConfig(checkpoint_every=checkpoint_every, baseline_episodes=1),
    )


def episode_return(make, overrides: dict, seeds) -> float:
    """Mean over seeds and satellites of the training return."""
    env = OrbitComputeEnv(SCENARIO, overrides=overrides)
    total = []
    for seed in seeds:
        policy = make(env)
        policy.reset(seed)
        obs, infos = env.reset(seed=seed)
        ret = 0.0
        while env.agents:
            obs, rewards, _, _, infos = env.step(policy.act(obs, infos))
            ret += np.mean(list(rewards.values()))
        total.append(ret)
    return float(np.mean(total))


# ------------------------------------------------------------------------------------ the bridge


@pytest.mark.parametrize("vec_env", ["batch", "supersuit"])
def test_bridge_keeps_truncation_seeds_and_masks(vec_env):
    venv = make_vec_env(SCENARIO, 2, {"episode.max_cycles": 3}, vec_env=vec_env)
    N = venv.n_agents
    assert venv.num_envs == 2 * N and venv.observation_space.shape == (venv.reset().shape[1],)
    venv.seed(7)
    first = venv.reset()
    assert np.array_equal(venv.env_method("action_masks")[0], venv.action_masks()[0])
    assert get_action_masks(VecNormalize(venv)).shape == (2 * N, venv.action_space.n)  # how MaskablePPO asks, through VecNormalize
    for _ in range(3):
        venv.step_async(np.zeros(venv.num_envs, np.int64))
        obs, rewards, dones, infos = venv.step_wait()
    assert dones.all()
    assert all(i["TimeLimit.truncated"] for i in infos)  # truncation, not termination: PPO bootstraps
    assert all(i["terminal_observation"].shape == venv.observation_space.shape for i in infos)
    assert [i for i, info in enumerate(infos) if "episode" in info] == [0, N]  # one return per episode
    assert infos[0]["episode"]["l"] == 3 and "delivered_value" in infos[0]["metrics"]
    assert not np.array_equal(obs, np.stack([i["terminal_observation"] for i in infos]))  # same-step autoreset: a new episode
    venv.seed(7)
    assert np.array_equal(venv.reset(), first)
    assert not np.array_equal(first[:N], first[N:])  # the two episodes got different seeds


@pytest.mark.parametrize("critic_summary", [False, True])
def test_batch_bridge_equals_the_supersuit_bridge_step_for_step(critic_summary):
    overrides = {"episode.max_cycles": 5, "episode.dense_shaping": True, "episode.reward": "individual"}
    fast, slow = (make_vec_env(SCENARIO, 2, overrides, 0.5, critic_summary, vec_env=v) for v in ("batch", "supersuit"))
    for venv in (fast, slow):
        venv.seed(4)
    np.testing.assert_array_equal(fast.reset(), slow.reset())
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(12):  # two autoresets
        mask = fast.action_masks()
        np.testing.assert_array_equal(mask, slow.action_masks())
        action = (rng.random(mask.shape) * mask).argmax(axis=1)
        for venv in (fast, slow):
            venv.step_async(action)
        (o1, r1, d1, i1), (o2, r2, d2, i2) = fast.step_wait(), slow.step_wait()
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(d1, d2)
        ended += d1.all()
        for a, b in zip(i1, i2):
            assert a.keys() <= b.keys()  # SuperSuit's infos also carry the per-agent reward components
            if "terminal_observation" in a:
                np.testing.assert_array_equal(a["terminal_observation"], b["terminal_observation"])
                assert a["TimeLimit.truncated"] == b["TimeLimit.truncated"] and a["metrics"] == b["metrics"]
            if "episode" in a:
                assert {k: v for k, v in a["episode"].items() if k != "t"} == {k: v for k, v in b["episode"].items() if k != "t"}
    assert ended == 2 and r1.dtype == np.float32


def test_evaluation_runs_the_seeds_as_one_batch_with_each_seeds_result():
    overrides, seeds = {"episode.max_cycles": 240}, [500, 501, 502]  # deliveries begin within four hours
    for name in ("random", "edf"):
        batched = delivered(SCENARIO, overrides, lambda e, n=name: make_policy(n, e), seeds)
        alone = []
        for seed in seeds:  # one episode at a time, as the leaderboard's worker plays it
            env = OrbitComputeEnv(SCENARIO, overrides=overrides)
            policy = make_policy(name, env)
            policy.reset(seed)
            env.reset(seed=seed)
            while not env.truncated:
                env.batch.step(policy.act_arrays(env.observations, env.action_masks)[None])
            alone.append(env.metrics()["delivered_value"])
        np.testing.assert_array_equal(batched, alone, err_msg=name)
        assert len(set(alone)) > 1  # the seeds differ


# --------------------------------------------------------------------------- training and export


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """One short run through the CLI: the policy every export test uses."""
    out = tmp_path_factory.mktemp("run")
    cfg = tmp_path_factory.mktemp("cfg") / "tiny.toml"
    cfg.write_text(
        f'scenario = "{SCENARIO}"\ntimesteps = 30_720\n'
        '[env]\nn_envs = 2\noverrides = { "episode.max_cycles" = 120, "episode.dense_shaping" = true, "episode.reward" = "individual" }\n'
        "[ppo]\nn_steps = 128\nbatch_size = 768\nn_epochs = 4\nnet_arch = [64, 64]\nlearning_rate = 1e-3\n"
        "[run]\ncheckpoint_every = 15_000\nbaseline_episodes = 1\n"
    )
    assert main(["train", "--config", str(cfg), "--out", str(out), "--seed", "3", "--quiet"]) == 0
    return out


def test_a_config_file_names_the_scenario_unless_the_command_line_does(run, tmp_path):
    assert json.loads((run / "config.json").read_text())["config"]["scenario"] == SCENARIO
    cfg = tmp_path / "one.toml"
    cfg.write_text('scenario = "starcloud-1"\ntimesteps = 256\n[env]\nn_envs = 1\noverrides = { "episode.max_cycles" = 20 }\n'
                   "[ppo]\nn_steps = 128\nbatch_size = 64\n[run]\nbaseline_episodes = 1\nbaselines = []\n")  # fmt: skip
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    assert json.loads((tmp_path / "a" / "config.json").read_text())["config"]["scenario"] == "starcloud-1"
    assert main(["train", "--config", str(cfg), "--scenario", SCENARIO, "--out", str(tmp_path / "b"), "--quiet", "--timesteps", "1536"]) == 0
    assert json.loads((tmp_path / "b" / "config.json").read_text())["config"]["scenario"] == SCENARIO


def test_short_training_beats_random(run):
    seeds = range(500, 504)
    learned = episode_return(lambda env: LearnedPolicy.for_env(env, path=run / "policy.safetensors"), LEARN, seeds)
    random = episode_return(lambda env: make_policy("random", env), LEARN, seeds)
    assert learned > 1.2 * random
    for name in ("curve.csv", "curve.png", "policy.json", "summary.json", "baselines.json"):
        assert (run / name).is_file()
    assert len(checkpoints(run)) >= 2 and any((run / "tb").iterdir())


def test_exported_policy_acts_like_the_model(run):
    saved = json.loads((run / "config.json").read_text())
    cfg = config_from_dict(saved["config"])
    venv = build_env(cfg)
    model, _ = load_checkpoint(checkpoints(run)[-1], venv)
    venv.training = False  # keep the normalisation statistics of the checkpoint
    policy = LearnedPolicy.for_env(OrbitComputeEnv(SCENARIO), path=run / "policy.safetensors")
    venv.seed(11)
    venv.reset()
    raw, masks = [], []
    rng = np.random.default_rng(0)
    for _ in range(30):
        raw.append(venv.get_original_obs())
        masks.append(venv.venv.action_masks().copy())
        action = (rng.random(masks[-1].shape) * masks[-1]).argmax(axis=1)
        venv.step(action)
    raw, masks = np.concatenate(raw), np.concatenate(masks)
    expected, _ = model.predict(venv.normalize_obs(raw), action_masks=masks, deterministic=True)
    np.testing.assert_array_equal(policy.act_arrays(raw, masks), expected)
    with torch.no_grad():
        logits = model.policy.get_distribution(torch.as_tensor(venv.normalize_obs(raw))).distribution.logits.numpy()
    np.testing.assert_allclose(policy.logits(raw) - policy.logits(raw).max(-1, keepdims=True), logits - logits.max(-1, keepdims=True), atol=1e-4)
    # any leading axes: (episodes, satellites, D)
    n = (len(raw) // 12) * 12
    batched = policy.act_arrays(raw[:n].reshape(-1, 12, raw.shape[1]), masks[:n].reshape(-1, 12, masks.shape[1]))
    np.testing.assert_array_equal(batched.reshape(-1), expected[:n])


def test_central_critic_sees_the_constellation_and_the_actor_only_its_satellite(tmp_path):
    base = tiny_config(2 * 1536)
    cfg = dataclasses.replace(base, ppo=dataclasses.replace(base.ppo, critic="central"), env=dataclasses.replace(base.env, team_weight=1.0))
    result = train(cfg, tmp_path / "run", seed=2, progress=False)
    venv = build_env(cfg)
    model, _ = load_checkpoint(checkpoints(result.out)[-1], venv)
    venv.training = False
    D = OrbitComputeEnv(SCENARIO).layout.size
    venv.seed(3)
    venv.reset()
    raw, masks = [], []
    for _ in range(20):
        raw.append(venv.get_original_obs())
        masks.append(venv.venv.action_masks().copy())
        venv.step((np.random.default_rng(len(raw)).random(masks[-1].shape) * masks[-1]).argmax(axis=1))
    raw, masks = np.concatenate(raw), np.concatenate(masks)
    assert raw.shape[1] == 3 * D
    per_episode = raw[:12, :D]  # episode 0's satellites at the first step: mean and max follow each one's own vector
    np.testing.assert_allclose(raw[:12, D:], np.tile(np.concatenate([per_episode.mean(0), per_episode.max(0)]), (12, 1)), atol=1e-6)
    shuffled = raw.copy()
    shuffled[:, D:] = shuffled[::-1, D:]  # another constellation around the same satellites
    obs, other = (torch.as_tensor(venv.normalize_obs(x)) for x in (raw, shuffled))
    with torch.no_grad():
        logits = [model.policy.get_distribution(o).distribution.logits for o in (obs, other)]
        values = [model.policy.predict_values(o) for o in (obs, other)]
    torch.testing.assert_close(logits[0], logits[1])  # the actor reads only its own observation
    assert not torch.allclose(values[0], values[1])  # the critic reads the summary
    policy = LearnedPolicy.for_env(OrbitComputeEnv(SCENARIO), path=result.policy_path)
    expected, _ = model.predict(venv.normalize_obs(raw), action_masks=masks, deterministic=True)
    np.testing.assert_array_equal(policy.act_arrays(raw[:, :D], masks), expected)  # the export needs no summary


def test_corrupt_or_mismatched_policy_is_a_clear_error(run, tmp_path):
    env = OrbitComputeEnv(SCENARIO)
    weights, spec = tmp_path / "policy.safetensors", tmp_path / "policy.json"

    def copy():
        weights.write_bytes((run / "policy.safetensors").read_bytes())
        spec.write_text((run / "policy.json").read_text())

    copy()
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(PolicyFileError, match="sha256"):
        LearnedPolicy.for_env(env, path=weights)

    copy()
    spec.write_text(spec.read_text()[:100])
    with pytest.raises(PolicyFileError, match="not valid JSON"):
        LearnedPolicy.for_env(env, path=weights)

    copy()
    weights.unlink()
    with pytest.raises(PolicyFileError, match="cannot read policy weights"):
        LearnedPolicy.for_env(env, path=spec)

    copy()
    doc = json.loads(spec.read_text())
    doc["env"]["id"] = "orbit_compute_v9"
    spec.write_text(json.dumps(doc))
    with pytest.raises(PolicyFileError, match="orbit_compute_v9"):
        LearnedPolicy.for_env(env, path=weights)

    copy()
    with pytest.raises(PolicyFileError, match="K=4 queue slots and M=2 neighbour terminals, this env has K=4, M=4"):
        LearnedPolicy.for_env(OrbitComputeEnv(SCENARIO, overrides={"links.isl_terminals": 4}), path=weights)
    with pytest.raises(PolicyFileError, match="action space mismatch"):
        LearnedPolicy.for_env(OrbitComputeEnv(SCENARIO, overrides={"hardware.power_caps_w": [100.0, 200.0]}), path=weights)
    # more or fewer satellites is fine: the spaces are per satellite
    assert LearnedPolicy.for_env(OrbitComputeEnv(SCENARIO, overrides={"orbit.sats_per_plane": 6}), path=weights)


def test_fixed_seed_gives_the_same_curve(tmp_path):
    cfg = tiny_config(4 * 1536)
    for name in ("a", "b"):
        train(cfg, tmp_path / name, seed=5, progress=False)
    rows = [[r[:-1] for r in csv.reader((tmp_path / n / "curve.csv").open())] for n in ("a", "b")]  # all but wall time
    assert len(rows[0]) > 3 and rows[0] == rows[1]
    assert any(float(r[2]) != 0 for r in rows[0][1:])  # the curve is not trivially flat
    assert (tmp_path / "a" / "policy.safetensors").read_bytes() == (tmp_path / "b" / "policy.safetensors").read_bytes()


def test_resume_continues_steps_and_optimizer(tmp_path):
    out = tmp_path / "run"
    first = train(tiny_config(2 * 1536), out, seed=1, progress=False)
    venv = build_env(tiny_config(1))
    model1, meta1 = load_checkpoint(checkpoints(out)[-1], venv)
    adam1 = model1.policy.optimizer.state_dict()["state"][0]
    assert meta1["timesteps"] == first.timesteps == 3072 and int(adam1["step"]) > 0

    with pytest.raises(RunError, match="already holds a run"):
        train(tiny_config(4 * 1536), out, seed=1, progress=False)
    with pytest.raises(RunError, match="seed 1"):
        train(tiny_config(4 * 1536), out, seed=2, resume=True, progress=False)
    phases1 = json.loads((out / "summary.json").read_text())["phases"]
    second = train(tiny_config(4 * 1536), out, seed=1, resume=True, progress=False)
    assert second.timesteps == 6144
    model2, meta2 = load_checkpoint(checkpoints(out)[-1], build_env(tiny_config(1)))
    adam2 = model2.policy.optimizer.state_dict()["state"][0]
    assert meta2["timesteps"] == 6144 and model2._n_updates == 2 * model1._n_updates
    assert int(adam2["step"]) == 2 * int(adam1["step"])  # Adam's moments and step count were carried over
    # the wall time per phase adds up over the sessions: the checkpoint kept the first session's
    assert meta1["phases"] == {k: v for k, v in phases1.items() if k != "scoring_s"}
    summary2 = json.loads((out / "summary.json").read_text())
    assert summary2["wall_s"] > meta1["wall_s"] and summary2["session_wall_s"] < summary2["wall_s"]
    assert all(summary2["phases"][k] > phases1[k] for k in ("rollout_s", "update_s"))
    assert second.phases == summary2["phases"]
    steps = [int(r[0]) for r in list(csv.reader((out / "curve.csv").open()))[1:]]
    assert steps == sorted(steps) and steps[-1] > 3072
    with pytest.raises(RunError, match="no checkpoint"):
        train(tiny_config(1536), tmp_path / "empty", seed=1, resume=True, progress=False)


def test_summary_gives_the_wall_time_of_every_phase(tmp_path):
    cfg = dataclasses.replace(tiny_config(1536), bc=BCConfig(steps=10, epochs=1))  # one rollout, one update
    cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, baselines=[]))
    result = train(cfg, tmp_path / "run", seed=2, progress=False, device="cpu")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    phases = summary["phases"]
    assert set(phases) == {"cloning_s", "rollout_s", "update_s", "scoring_s"} and result.phases == phases
    assert all(t > 0 for t in phases.values())  # the last update too, which ends with training, not with a rollout
    assert phases["cloning_s"] == json.loads((tmp_path / "run" / "bc.json").read_text())["wall_s"]
    assert phases["rollout_s"] + phases["update_s"] <= summary["wall_s"]  # cloning and scoring come before and after
    assert summary["agent_steps_per_s"] == pytest.approx(summary["timesteps"] / summary["wall_s"]) and summary["agent_steps_per_s"] > 0
    assert summary["device"] == result.device == "cpu"


def test_device_is_picked_or_refused_with_the_reason(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda") and pick_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu") == pick_device("cpu")
    with pytest.raises(DeviceError, match="'cuda' was asked for, but torch .* sees no CUDA GPU"):
        pick_device("cuda")
    with pytest.raises(DeviceError, match="device 'gpu' is unknown; expected one of 'auto', 'cpu', 'cuda'"):
        pick_device("gpu")
    out = tmp_path / "run"
    assert main(["train", "--scenario", SCENARIO, "--timesteps", "1536", "--out", str(out), "--quiet", "--device", "cuda"]) == 2
    assert "sees no CUDA GPU" in capsys.readouterr().err and not out.exists()  # refused before the run directory is made
    assert main(["train", "--backend", "rllib", "--out", str(out), "--quiet", "--device", "cpu"]) == 2
    assert "--device is for --backend sb3" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cloning_on_the_gpu_matches_the_cpu():
    cfg = tiny_config(1)
    venv = build_env(cfg)
    data = collect(venv, make_policy("edf", OrbitComputeEnv(SCENARIO, overrides=SHORT)), 20, cfg.ppo.gamma, seed=0)
    data["obs"] = venv.normalize_obs(data["obs"])
    weights = []
    for device in ("cpu", "cuda"):
        model = build_model(cfg, venv, seed=0, device=device)  # SB3 initialises on the CPU: the same start
        clone(model, data, epochs=3, batch_size=256, seed=0)
        weights.append(export.actor_tensors(model.policy)[0])
    for name, w in weights[0].items():
        np.testing.assert_allclose(weights[1][name], w, atol=1e-3, err_msg=name)  # a few Adam steps of 3e-4 each


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    target = tmp_path / "ckpt.zip"
    export.atomic_write_bytes(target, b"old")

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        export.atomic_write_bytes(target, b"new and much longer")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["ckpt.zip"]


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'n_step'"):
        config_from_dict({"ppo": {"n_step": 10}})
    with pytest.raises(ConfigError, match="unknown key 'nev'"):
        config_from_dict({"nev": {}})
    with pytest.raises(ConfigError, match="ppo.critic is 'global'; expected 'local' or 'central'"):
        config_from_dict({"ppo": {"critic": "global"}})
    with pytest.raises(ConfigError, match="env.vec_env is 'dummy'; expected one of 'batch', 'supersuit'"):
        config_from_dict({"env": {"vec_env": "dummy"}})
    shipped = load_config(SCENARIO)
    assert shipped.scenario == SCENARIO and shipped.env.overrides
    assert load_config("starcloud-shell-1000") == TrainConfig(scenario="starcloud-shell-1000")  # no config file: defaults


def test_team_weight_shares_the_reward():
    overrides = {"episode.max_cycles": 60, "episode.dense_shaping": True, "episode.reward": "individual"}
    own, shared = make_vec_env(SCENARIO, 1, overrides), make_vec_env(SCENARIO, 1, overrides, team_weight=1.0)
    for venv in (own, shared):
        venv.seed(4)  # jobs reach the satellites within the hour
        venv.reset()
    spread = []
    for _ in range(60):
        run = own.action_masks()[:, 2:14]  # run(k, p): the first legal one, the same in both envs
        action = np.where(run.any(axis=1), 2 + run.argmax(axis=1), 0)
        for venv in (own, shared):
            venv.step_async(action)
        (_, r_own, _, _), (_, r_shared, _, _) = own.step_wait(), shared.step_wait()
        np.testing.assert_allclose(r_shared, r_own.mean(), rtol=1e-6)
        spread.append(np.ptp(r_own))
    assert max(spread) > 0  # the satellites' own rewards differ; shared, each gets the mean


def test_behaviour_cloning_imitates_the_teacher():
    cfg = tiny_config(1)
    venv = build_env(cfg)
    model = build_model(cfg, venv, seed=0)
    data = collect(venv, make_policy("edf", OrbitComputeEnv(SCENARIO, overrides=SHORT)), 40, cfg.ppo.gamma, seed=0)
    assert len(data["obs"]) == 40 * venv.num_envs and data["return"].shape == data["action"].shape
    assert clone(model, {**data, "obs": venv.normalize_obs(data["obs"])}, epochs=30, batch_size=256, seed=0) > 0.95


def test_dagger_lets_the_student_act_and_the_teacher_label():
    cfg = tiny_config(1)
    venv = build_env(cfg)
    model = build_model(cfg, venv, seed=0)  # untrained: it disagrees with the teacher
    teacher = make_policy("edf", OrbitComputeEnv(SCENARIO, overrides=SHORT))
    data = collect(venv, teacher, 40, cfg.ppo.gamma, seed=4, student=model)  # jobs reach the satellites within the hour
    assert np.array_equal(data["action"], teacher.act_arrays(data["obs"], data["mask"]))  # labels are the teacher's
    assert (data["student_action"] != data["action"]).any()  # ... but the student chose the moves
    assert data["mask"][np.arange(len(data["mask"])), data["student_action"]].all()  # legal ones
    report = warm_start(model, venv, teacher, BCConfig(steps=20, epochs=20, dagger_rounds=2, dagger_epochs=20), cfg.ppo.gamma, 256, seed=0)
    assert report["samples"] == [20 * venv.num_envs * r for r in (1, 2, 3)] and len(report["student_agreement"]) == 2
    assert report["student_agreement"][-1] > 0.9 and report["accuracy"][-1] > 0.95  # after cloning, it mostly agrees


def test_export_command_writes_a_named_copy(run, tmp_path):
    assert export.main([str(run), str(tmp_path / "three-body-12.safetensors")]) == 0
    spec = json.loads((tmp_path / "three-body-12.json").read_text())
    assert spec["weights"]["file"] == "three-body-12.safetensors" and spec["trained_on"]["seed"] == 3
    assert (tmp_path / "three-body-12.safetensors").read_bytes() == (run / "policy.safetensors").read_bytes()
    assert LearnedPolicy.for_env(OrbitComputeEnv(SCENARIO), path=tmp_path / "three-body-12.json")


def test_export_command_picks_an_earlier_checkpoint(run, tmp_path, capsys):
    first, last = checkpoints(run)[0], checkpoints(run)[-1]
    assert export.main([str(run), str(tmp_path / "early.safetensors"), "--checkpoint", str(first)]) == 0
    early = json.loads((tmp_path / "early.json").read_text())["trained_on"]["timesteps"]
    assert early == int(first.stem.split("_")[1]) < int(last.stem.split("_")[1])
    assert (tmp_path / "early.safetensors").read_bytes() != (run / "policy.safetensors").read_bytes()
    with pytest.raises(SystemExit):
        export.main([str(run), str(tmp_path / "x.safetensors"), "--checkpoint", str(tmp_path / "missing.zip")])
    assert "no checkpoint file" in capsys.readouterr().err


# The textbook SuperSuit -> SB3 path is a recipe (recipes/supersuit_sb3.py), tested in tests/test_recipes.py.
