"""The universal layout and set network (agents/universal.py) and PPO from scratch (train/ppo_scratch.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("safetensors")
torch = pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from agents import make_policy  # noqa: E402
from agents import universal as U  # noqa: E402
from agents.learned import LearnedPolicy, PolicyFileError, load_policy  # noqa: E402
from agents.policy import play  # noqa: E402
from orbit_env.actions import Act  # noqa: E402
from orbit_env.batch import BatchEnv  # noqa: E402
from train.ppo_scratch import ScratchConfig, SetActorCritic, Stream, export, gae, masked, replay_baseline, train  # noqa: E402

# K, M, G, satellites: (4, 2, 0, 12), (16, 2, 8, 16), (16, 4, 8, 24)
SIZES = ("three-body-12", "radiation-saa-16", "contacts-relay-24")
LEARN = {"episode.max_cycles": 120, "episode.dense_shaping": True, "episode.reward": "individual"}


def random_params(hidden: int = 16, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {n: (rng.normal(0, 0.5, s).astype(np.float32), rng.normal(0, 0.1, s[0]).astype(np.float32)) for n, s in U.layer_shapes(hidden).items()}


@pytest.mark.parametrize("scenario", SIZES)
def test_universal_observation_holds_every_native_field_by_name_and_pads_the_rest(scenario):
    env = BatchEnv(scenario, 2, max_cycles=5)
    obs, mask, _ = env.reset(seed=3)
    ul = U.UniversalLayout.for_env(env)
    x = ul.obs(obs)
    assert x.shape == (2, env.n_agents, U.UNIVERSAL_SIZE)
    names, native = U.universal_names(), env.layout.names()
    for i, name in enumerate(native):
        assert np.array_equal(x[..., names.index(name)], obs[..., i]), name
    K, M, G = env.layout.K, env.layout.M, env.layout.G
    for k in range(U.K_MAX):
        assert (x[..., names.index(f"slot[{k}].exists")] == (k < K)).all()
        if k >= K:
            assert (x[..., names.index(f"slot[{k}].present")] == 0).all()
    for m in range(U.M_MAX):
        assert (x[..., names.index(f"neigh[{m}].exists")] == (m < M)).all()
    for g in range(U.G_MAX):
        assert (x[..., names.index(f"window[{g}].exists")] == (g < G)).all()
    if not env.layout.ground:
        assert (x[..., names.index("own.storage_free")] == 1).all() and (x[..., names.index("own.link")] == 0).all()
    # the mask: as many legal actions as natively, each mapping to a legal native action, padding never legal
    um = ul.mask(mask)
    assert (um.sum(-1) == (mask > 0).sum(-1)).all()
    kind, slot, level, neigh = U.UNIVERSAL_ACTIONS.tables
    padding = ((kind == Act.RUN) | (kind == Act.SEND)) & (slot >= K) | (kind == Act.SEND) & (neigh >= M) | (kind == Act.ADMIT) & (U.UNIVERSAL_ACTIONS.entry >= G)
    assert padding.any() == (K < U.K_MAX or M < U.M_MAX or G < U.G_MAX) and not um[..., padding].any()
    legal = np.argwhere(um)
    native = ul.to_native(legal[:, -1])
    assert (mask[legal[:, 0], legal[:, 1], native] > 0).all()
    assert len(np.unique(ul._to_native[ul._to_native >= 0])) == env.n_actions  # every native action is reachable, once
    if padding.any():
        with pytest.raises(ValueError, match="no native action"):
            ul.to_native(np.flatnonzero(padding)[:1])


def test_a_scenario_beyond_the_maxima_is_refused_with_the_reason():
    env = BatchEnv("three-body-12", overrides={"links.isl_terminals": 6})
    with pytest.raises(ValueError, match="M=6 > 4"):
        U.UniversalLayout.for_env(env)


def test_the_set_network_is_equivariant_over_slots_neighbours_and_window_entries():
    env = BatchEnv("contacts-relay-24", 1, max_cycles=3)
    env.reset(seed=1)
    for _ in range(2):  # a few steps in, so queues and windows hold jobs
        env.step(np.zeros((1, env.n_agents), int))
    x = U.UniversalLayout.for_env(env).obs(env.observations)[0]
    params = random_params()
    logits, ctx = U.forward(params, x, np)
    own, slots, neigh, window = U.split(x)
    rng = np.random.default_rng(0)
    ps, pn, pw = rng.permutation(U.K_MAX), rng.permutation(U.M_MAX), rng.permutation(U.G_MAX)
    y = np.concatenate([own, slots[:, ps].reshape(len(x), -1), neigh[:, pn].reshape(len(x), -1), window[:, pw].reshape(len(x), -1)], axis=-1)
    logits2, ctx2 = U.forward(params, y, np)
    np.testing.assert_allclose(ctx2, ctx, rtol=1e-5, atol=1e-5)
    A = U.UNIVERSAL_ACTIONS
    np.testing.assert_allclose(logits2[:, :2], logits[:, :2], rtol=1e-5, atol=1e-5)
    run = logits[:, A.run(np.arange(U.K_MAX)[:, None], np.arange(U.P_MAX))]
    np.testing.assert_allclose(logits2[:, A.run(np.arange(U.K_MAX)[:, None], np.arange(U.P_MAX))], run[:, ps], rtol=1e-5, atol=1e-5)
    send = logits[:, A.send(np.arange(U.K_MAX)[:, None], np.arange(U.M_MAX))]
    np.testing.assert_allclose(logits2[:, A.send(np.arange(U.K_MAX)[:, None], np.arange(U.M_MAX))], send[:, ps][:, :, pn], rtol=1e-5, atol=1e-5)
    admit = logits[:, A.admit(np.arange(U.G_MAX))]
    np.testing.assert_allclose(logits2[:, A.admit(np.arange(U.G_MAX))], admit[:, pw], rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An untrained model with random weights, exported: its actions are not the idle action everywhere."""
    torch.manual_seed(0)
    model = SetActorCritic(16, "central")
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
    out = tmp_path_factory.mktemp("sets")
    spec = export(model, ScratchConfig(hidden=16, critic="central"), out / "policy.safetensors", 0)
    return model, spec


@pytest.mark.parametrize("scenario", SIZES)
def test_one_exported_network_plays_scenarios_of_different_sizes_and_matches_the_model(exported, scenario):
    model, spec = exported
    env = BatchEnv(scenario, 2, max_cycles=30, autoreset_mode="disabled")
    policy = load_policy(spec, env)
    assert isinstance(policy, U.UniversalPolicy)
    ul = U.UniversalLayout.for_env(env)
    chosen = []

    def same_as_model_and_legal(actions, t):
        obs, mask = env.observations, env.action_masks
        with torch.no_grad():
            logits = model(torch.from_numpy(ul.obs(obs)))[0]
            want = masked(logits, torch.from_numpy(ul.mask(mask))).probs.argmax(-1).numpy()
        assert np.array_equal(policy.universal_actions(obs, mask), want)
        assert np.array_equal(actions, ul.to_native(want))
        assert (np.take_along_axis(mask, actions[..., None], -1) > 0).all()
        chosen.append(actions)
        return actions

    play(policy, env, [5, 6], check=same_as_model_and_legal)
    assert len(chosen) == 30 and len(np.unique(chosen)) > 2  # the network does more than idle


def test_the_loaders_refuse_each_others_format_and_a_tampered_universal_spec(exported, tmp_path):
    _, spec = exported
    env = BatchEnv("radiation-saa-16")
    with pytest.raises(PolicyFileError, match="universal-sets"):
        LearnedPolicy.for_env(env, path=spec)
    data = json.loads(spec.read_text())
    (tmp_path / spec.name).write_text(json.dumps({**data, "network": {"hidden": 32}}))
    (tmp_path / "policy.safetensors").write_bytes(spec.with_suffix(".safetensors").read_bytes())
    with pytest.raises(PolicyFileError, match=r"expected shape \(32, 23\)"):
        load_policy(tmp_path / spec.name, env)
    (tmp_path / spec.name).write_text(json.dumps({**data, "kind": "transformer"}))
    with pytest.raises(PolicyFileError, match="kind 'transformer'"):
        load_policy(tmp_path / spec.name, env)


@pytest.mark.parametrize("scenario", SIZES)
def test_from_native_inverts_to_native_for_every_native_action(scenario):
    ul = U.UniversalLayout.for_env(BatchEnv(scenario, 1))
    native = np.arange(ul.native_actions.n)
    assert np.array_equal(ul.to_native(ul.from_native(native)), native)


def test_advice_is_the_advisors_actions_and_full_trust_in_one_advisor_plays_like_it(tmp_path):
    """A network whose only non-zero weights trust balance (a large bias on its advice) must act as balance
    on every step, through export, the spec's advisor names and the loader that rebuilds them."""
    env = BatchEnv("contacts-relay-24", 2, max_cycles=40, autoreset_mode="disabled")
    obs, mask, _ = env.reset(seed=4)
    ul = U.UniversalLayout.for_env(env)
    advice = U.Advice(("greedy", "balance"), env, ul)(obs, mask)
    assert advice.shape == (2, env.n_agents, 2, U.UNIVERSAL_ACTIONS.n) and (advice.sum(-1) == 1).all()
    for i, name in enumerate(("greedy", "balance")):
        assert np.array_equal(ul.to_native(advice[..., i, :].argmax(-1)), make_policy(name, env).act_arrays(obs, mask))
    model = SetActorCritic(8, "local", advisors=2)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.linears["head_advice"].bias[:] = torch.tensor([0.0, 50.0])
    spec = export(model, ScratchConfig(hidden=8, advisors=("greedy", "balance")), tmp_path / "policy.safetensors", 0)
    assert json.loads(spec.read_text())["network"]["advisors"] == ["greedy", "balance"]
    policy, balance = load_policy(spec, env), make_policy("balance", env)
    steps = []

    def as_balance(actions, t):
        assert np.array_equal(actions, balance.act_arrays(env.observations, env.action_masks))
        steps.append(t)
        return actions

    play(policy, env, [4, 5], check=as_balance)
    assert len(steps) == 40
    with pytest.raises(ValueError, match="advice from"):
        U.UniversalPolicy(env.layout, env.actions, spec)
    with pytest.raises(ValueError, match="each must be one of"):
        U.Advice(("random",), env, ul)
    with pytest.raises(ValueError, match="advisors"):
        ScratchConfig(advisors=("balance", "balance"))


def test_an_advised_spec_with_unknown_advisors_or_missing_trust_weights_is_refused(exported, tmp_path):
    _, spec = exported
    env = BatchEnv("radiation-saa-16")
    data = json.loads(spec.read_text())
    (tmp_path / "policy.safetensors").write_bytes(spec.with_suffix(".safetensors").read_bytes())
    for advisors, message in ((["planner"], "network.advisors must list"), (["balance"], "tensor head.advice.weight is missing")):
        (tmp_path / spec.name).write_text(json.dumps({**data, "network": {"hidden": 16, "advisors": advisors}}))
        with pytest.raises(PolicyFileError, match=message):
            load_policy(tmp_path / spec.name, env)


def test_gae_bootstraps_a_truncated_episode_from_its_final_value_and_does_not_cross_it():
    r = torch.tensor([[[1.0]], [[0.0]], [[2.0]]])  # (T=3, B=1, N=1)
    v = torch.tensor([[[0.5]], [[0.25]], [[0.0]]])
    ended = torch.tensor([[False], [True], [False]])
    boot = torch.tensor([[[0.0]], [[4.0]], [[0.0]]])
    adv = gae(r, v, ended, boot, torch.tensor([[1.0]]), gamma=0.5, lam=0.5)
    d2 = 2.0 + 0.5 * 1.0 - 0.0  # the new episode's step, bootstrapped from last_value
    d1 = 0.0 + 0.5 * 4.0 - 0.25  # truncated: the final observation's value, not the next episode's
    d0 = 1.0 + 0.5 * 0.25 - 0.5
    np.testing.assert_allclose(adv[:, 0, 0].numpy(), [d0 + 0.25 * d1, d1, d2], rtol=1e-6)


def mean_return(make, seeds) -> float:
    """Mean over seeds and satellites of the shaped training return (delivered + progress shaping)."""
    env = BatchEnv("three-body-12", len(seeds), overrides=LEARN, autoreset_mode="disabled")
    policy = make(env)
    env.reset(seed=list(seeds))
    policy.reset(list(seeds))
    total = 0.0
    while True:
        _, _, rewards, _, trunc, _ = env.step(policy.act_arrays(env.observations, env.action_masks))
        total += rewards.mean()
        if trunc.all():
            return total


def test_a_short_run_from_scratch_improves_on_random_and_is_reproducible(tmp_path):
    cfg = ScratchConfig(scenario="three-body-12", agent_steps=30_720, n_envs=2, n_steps=128, overrides=LEARN, hidden=32,
                        epochs=4, minibatches=4, learning_rate=1e-3, seed=1)  # fmt: skip
    result = train(cfg, tmp_path / "a", progress=False)
    seeds = range(500, 504)
    learned = mean_return(lambda env: load_policy(result.spec, env), seeds)
    random = mean_return(lambda env: make_policy("random", env), seeds)
    assert learned > 1.2 * random
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["agent_steps"] == 30_720 and summary["rollout_s"] > 0 and summary["update_s"] > 0
    again = train(cfg, tmp_path / "b", progress=False)
    assert (tmp_path / "a" / "policy.safetensors").read_bytes() == (tmp_path / "b" / "policy.safetensors").read_bytes()
    assert again.agent_steps == result.agent_steps
    with pytest.raises(FileExistsError):
        train(cfg, tmp_path / "a", progress=False)


def test_orbit_env_train_runs_the_scratch_trainer_with_a_config(tmp_path):
    from orbit_env.cli import main

    cfg = tmp_path / "tiny.toml"
    cfg.write_text('scenario = "three-body-12"\nn_envs = 1\nn_steps = 16\nhidden = 8\nepochs = 1\nminibatches = 2\n'
                   '[overrides]\n"episode.max_cycles" = 10\n')  # fmt: skip
    out = tmp_path / "run"
    assert main(["train", "--backend", "ppo-scratch", "--config", str(cfg), "--timesteps", "384", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agent_steps"] == 2 * 16 * 12 and summary["config"]["hidden"] == 8
    rows = (out / "curve.csv").read_text().splitlines()
    assert rows[0].startswith("timesteps,") and len(rows) == 1 + 3  # episodes of 10 steps end at steps 10, 20 and 30 of 32
    assert main(["train", "--backend", "ppo-scratch", "--config", str(cfg), "--out", str(out), "--resume"]) == 2


def test_the_replay_baseline_subtracts_the_other_episodes_of_the_same_arrival_sequence():
    adv = torch.tensor([[[1.0], [3.0], [10.0], [20.0]]])  # (T=1, B=4, N=1): episodes 0-1 and 2-3 share inputs
    assert torch.equal(replay_baseline(adv, 1), adv)
    np.testing.assert_allclose(replay_baseline(adv, 2)[0, :, 0].numpy(), [-2.0, 2.0, -10.0, 10.0])
    three = torch.tensor([[[1.0], [2.0], [6.0]]])
    np.testing.assert_allclose(replay_baseline(three, 3)[0, :, 0].numpy(), [1 - 4, 2 - 3.5, 6 - 1.5])


def test_replayed_episodes_share_their_arrivals_across_autoresets_whatever_the_actions(tmp_path):
    cfg = ScratchConfig(scenario="radiation-saa-16", n_envs=4, replay=2, n_steps=25, hidden=8, overrides={"episode.max_cycles": 10})
    stream = Stream(cfg.scenario, cfg.n_envs, cfg, tmp_path, "curve.csv")
    obs = stream.env.observations
    assert np.array_equal(obs[0], obs[1]) and np.array_equal(obs[2], obs[3]) and not np.array_equal(obs[0], obs[2])
    stream.rollout(SetActorCritic(8, "local"), cfg, 0, 0.0)  # random actions differ between the episodes of a pair
    assert not torch.equal(stream.buf["a"][:, 0], stream.buf["a"][:, 1])
    obs = stream.env.observations  # 25 steps: the third episodes, 5 steps in, after different actions
    assert np.array_equal(stream.env.sim.t[:2], [5, 5])
    assert [r.bit_generator.state for r in stream.env.rngs[:1]] == [r.bit_generator.state for r in stream.env.rngs[1:2]]


def test_a_mixed_run_trains_one_network_on_scenarios_of_different_sizes(tmp_path):
    cfg = ScratchConfig(mix={"three-body-12": 1, "contacts-relay-24": 1}, agent_steps=2 * 16 * 36, n_steps=16, hidden=8, epochs=1,
                        minibatches=2, advisors=("edf-safe",), overrides={"episode.max_cycles": 10})  # fmt: skip
    result = train(cfg, tmp_path / "mix", progress=False)
    assert result.agent_steps == 2 * 16 * 36
    for name in cfg.mix:
        rows = (tmp_path / "mix" / f"curve-{name}.csv").read_text().splitlines()
        assert len(rows) == 1 + 3  # each scenario: episodes of 10 steps end at steps 10, 20 and 30 of 32
        env = BatchEnv(name, 1, max_cycles=5)
        assert isinstance(load_policy(result.spec, env), U.UniversalPolicy)
    spec = json.loads(result.spec.read_text())
    assert spec["trained_on"]["scenarios"] == cfg.mix and spec["network"]["advisors"] == ["edf-safe"]
    assert not (tmp_path / "mix" / "curve.csv").exists()
    with pytest.raises(ValueError, match="divide every scenario"):
        ScratchConfig(mix={"three-body-12": 3}, replay=2)


def test_zero_shot_resizes_walker_constellations_and_refuses_others():
    from train.zero_shot import resized

    assert resized("radiation-saa-16", 0.5) == {"orbit.sats_per_plane": 8}
    assert resized("combined-walker-120", 2.0) == {"orbit.sats_per_plane": 24}
    with pytest.raises(ValueError, match="only walker"):
        resized("suncatcher-81", 0.5)


def test_a_mix_config_refuses_a_scenario_of_its_own(tmp_path, capsys):
    from train.ppo_scratch import main

    cfg = tmp_path / "mix.toml"
    cfg.write_text('[mix]\n"three-body-12" = 1\n')
    with pytest.raises(SystemExit):
        main(["train", "--config", str(cfg), "--scenario", "heat-radiator-16", "--out", str(tmp_path / "run")])
    assert "names its scenarios" in capsys.readouterr().err and not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal where no GPU is present")
def test_the_scratch_trainer_refuses_a_missing_gpu_before_writing_anything(tmp_path, capsys):
    from train.ppo_scratch import main

    with pytest.raises(SystemExit):
        main(["train", "--scenario", "three-body-12", "--device", "cuda", "--out", str(tmp_path / "run")])
    assert "sees no CUDA GPU" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_the_advice_bias_flag_gives_one_trust_per_advisor_or_is_refused_by_name(tmp_path, capsys, monkeypatch):
    import types

    import train.ppo_scratch as ps

    seen = []
    done = types.SimpleNamespace(agent_steps=0, rollout_s=0.0, update_s=0.0, agent_steps_per_s=0.0, spec="-")
    monkeypatch.setattr(ps, "train", lambda cfg, out, progress: seen.append(cfg) or done)
    base = ["train", "--scenario", "energy-eclipse-24", "--advisors", "edf-safe,edf-ckpt,balance", "--out", str(tmp_path / "run")]
    assert ps.main([*base, "--advice-bias", "0,4,0"]) == 0 and seen[-1].advice_bias == (0.0, 4.0, 0.0)
    assert ps.main([*base, "--advice-bias", "2"]) == 0 and seen[-1].advice_bias == 2.0  # one number: every advisor
    with pytest.raises(SystemExit):
        ps.main([*base, "--advice-bias", "0,4"])
    assert "advice_bias = [0.0, 4.0] needs one number per advisor" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ps.main([*base, "--advice-bias", "four"])
    assert "--advice-bias: invalid" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ps.main([*base, "--advice-bias", "0,inf,0"])
    assert "must be finite" in capsys.readouterr().err and len(seen) == 2
