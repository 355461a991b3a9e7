"""Hostile and careless submissions (issue 11): a submission is data confined to its folder. Links in or out
of it, special files, oversized or malformed files, NaN networks, out-of-range parameters and duplicate
names are each refused with a clear, recorded failure, and the evaluator carries on with the others."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_leaderboard import META, ROOT, TINY, _toml, network, submission

from agents.confined import MIB, UnsafeFileError, read_confined
from agents.heuristics import HEURISTICS, PARAM_RANGES, heuristic_params, make_policy
from agents.learned import LearnedPolicy, PolicyFileError
from leaderboard.board import build_board
from leaderboard.entries import SubmissionError, read_submission, registered, resolve, submission_entry, unique
from leaderboard.evaluate import evaluate
from leaderboard.store import Store
from orbit_env.env import OrbitComputeEnv


def net_submission(root: Path, name: str) -> Path:
    """A valid safetensors submission (a random MLP for three-body-12)."""
    folder = submission(root, name, {"spec": "policy.json"}, kind="safetensors", scenarios=["three-body-12"])
    network(folder)
    return folder


def rewrite_network(folder: Path, change) -> None:
    """Apply ``change(tensors, spec)`` to a submission's network and write it back with a matching sha256,
    so that only the changed content (not the checksum) can be what the loader refuses."""
    from safetensors.numpy import load, save

    tensors = load((folder / "policy.safetensors").read_bytes())
    spec = json.loads((folder / "policy.json").read_text())
    change(tensors, spec)
    blob = save(tensors)
    spec["weights"]["sha256"] = hashlib.sha256(blob).hexdigest()
    (folder / "policy.safetensors").write_bytes(blob)
    (folder / "policy.json").write_text(json.dumps(spec))


def refusal(folder: Path) -> str:
    with pytest.raises(SubmissionError) as e:
        read_submission(folder)
    return str(e.value)


# ------------------------------------------------------------------------ files that are not regular files


@pytest.fixture
def good(tmp_path) -> Path:
    return net_submission(tmp_path / "subs", "good")


def test_links_out_of_or_within_a_submission_are_refused(tmp_path, good):
    subs = good.parent
    other = net_submission(subs, "other")
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(2 << 30)  # 2 GiB, sparse: reading it would cost 2 GiB of memory
    targets = {
        "other-weights": other / "policy.safetensors",  # another folder's weights (were evaluated as OK)
        "system-file": Path("/etc/passwd"),
        "large-file": big,
        "dev-zero": Path("/dev/zero"),  # an unbounded read
        "dangling": tmp_path / "nowhere",
    }
    for name, target in targets.items():
        folder = net_submission(subs, f"link-{name}")
        (folder / "policy.safetensors").unlink()
        (folder / "policy.safetensors").symlink_to(target)
        assert f"{folder / 'policy.safetensors'} is a symbolic link" in refusal(folder), name
    folder = net_submission(subs, "link-spec")  # the spec, and a sub-folder, as links inside the folder
    (folder / "policy.json").rename(folder / "real.json")
    (folder / "policy.json").symlink_to("real.json")
    assert "policy.json is a symbolic link" in refusal(folder)
    folder = net_submission(subs, "link-dir")
    (folder / "walker").symlink_to(other, target_is_directory=True)
    assert "walker is a symbolic link" in refusal(folder)
    folder = net_submission(subs, "link-toml")
    (folder / "real.toml").write_text((folder / "submission.toml").read_text())
    (folder / "submission.toml").unlink()
    (folder / "submission.toml").symlink_to("real.toml")
    assert "submission.toml is a symbolic link" in refusal(folder)
    # the whole folder as a link in the registry: its files would live elsewhere
    (subs / "linked").symlink_to(other, target_is_directory=True)
    by_name = {e.name: e for e in registered(subs)}
    assert "is a symbolic link: a submission is a folder of its own" in by_name["linked/"].error
    assert by_name["good"].error == "" and by_name["other"].error == ""


def test_special_files_are_refused_without_blocking(good):
    """A FIFO would block a reader forever; a socket or a device is no data either."""
    os.mkfifo(good / "pipe")
    assert "pipe is a FIFO (named pipe)" in refusal(good)
    (good / "pipe").unlink()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(good / "sock"))
    assert "sock is a socket" in refusal(good)
    sock.close()
    (good / "sock").unlink()
    (good / "submission.toml").rename(good / "toml.txt")
    os.mkfifo(good / "submission.toml")  # the toml itself a FIFO: refused, not a hang
    assert "submission.toml is a FIFO" in submission_entry(good).error
    (good / "submission.toml").unlink()
    (good / "submission.toml").mkdir()
    assert "submission.toml is a directory" in submission_entry(good).error
    with pytest.raises(UnsafeFileError, match="is a FIFO"):  # the reader itself: lstat before opening
        os.mkfifo(good / "fifo2")
        read_confined(good, "fifo2", MIB)


def test_a_device_node_is_refused(good):
    try:
        os.mknod(good / "zero", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero's numbers
    except PermissionError:
        pytest.skip("creating a device node needs privileges")
    assert "zero is a character device" in refusal(good)


def test_sizes_are_checked_before_reading(tmp_path, good):
    with open(good / "huge.bin", "wb") as f:
        f.truncate(300 * MIB)  # sparse: only its size is large
    assert f"holds {sum(p.stat().st_size for p in good.iterdir()):,}" in refusal(good)
    assert "bytes, more than the 256 MiB allowed" in refusal(good)
    with open(tmp_path / "w.bin", "wb") as f:
        f.truncate(65 * MIB)
    with pytest.raises(UnsafeFileError, match="is 68,157,440 bytes, more than the 64 MiB allowed"):
        read_confined(tmp_path, "w.bin", 64 * MIB)
    (good / "huge.bin").unlink()
    (good / "submission.toml").write_text("#" * (2 * MIB) + "\n")
    assert f"is {2 * MIB + 1:,} bytes, more than the 1 MiB allowed" in refusal(good)


def test_paths_must_be_relative_and_stay_inside(tmp_path):
    for spec in ("../other/policy.json", "/etc/passwd", "a/../../b.json", "", "."):
        folder = submission(tmp_path, f"p{abs(hash(spec))}", {"spec": spec}, kind="safetensors")
        assert "must be a relative path inside the submission folder" in refusal(folder), spec
    folder = submission(tmp_path, "per-scenario", {"spec": "policy.json", "specs": {"walker-160": "/etc/passwd"}}, kind="safetensors")
    assert "must be a relative path inside" in refusal(folder)
    for rel in ("../x", "/etc/passwd", "a/../../x"):
        with pytest.raises(UnsafeFileError, match="must be a relative path inside its folder"):
            read_confined(tmp_path, rel, MIB)


def test_the_worker_reads_policy_files_only_inside_the_folder(tmp_path, good):
    """Defence in depth: a link that appears after the submission was read is refused by the loader too."""
    env = OrbitComputeEnv("three-body-12", max_cycles=2)
    assert LearnedPolicy.for_env(env, path="policy.json", root=good)
    other = net_submission(tmp_path, "other")
    (good / "policy.safetensors").unlink()
    (good / "policy.safetensors").symlink_to(other / "policy.safetensors")
    with pytest.raises(PolicyFileError, match="policy.safetensors is a symbolic link"):
        LearnedPolicy.for_env(env, path="policy.json", root=good)
    with pytest.raises(PolicyFileError, match="must be a relative path"):
        LearnedPolicy.for_env(env, path="../other/policy.json", root=good)
    spec = json.loads((other / "policy.json").read_text())
    spec["weights"]["file"] = ".."
    (other / "policy.json").write_text(json.dumps(spec))
    with pytest.raises(PolicyFileError, match="weights.file must name a file in the same folder"):
        LearnedPolicy.for_env(env, path=other / "policy.json")


# -------------------------------------------------------------------------------- values that are no policy


BAD_NETWORKS = {
    "nan-weight": (lambda t, s: t["pi.0.weight"].__setitem__((3, 5), np.nan), "tensor pi.0.weight holds nan at index (3, 5)"),
    "inf-bias": (lambda t, s: t["logits.bias"].__setitem__(2, -np.inf), "tensor logits.bias holds -inf at index (2,)"),
    "int-weights": (lambda t, s: t.__setitem__("pi.0.weight", t["pi.0.weight"].astype(np.int32)), "has dtype int32"),
    "bool-bias": (lambda t, s: t.__setitem__("pi.0.bias", t["pi.0.bias"] > 0), "has dtype bool"),
    "wrong-shape": (lambda t, s: t.__setitem__("pi.0.bias", np.zeros(15, np.float32)), "layer pi.0 has shape (16, "),
    "negative-var": (
        lambda t, s: (s["normalize"].update(obs=True, clip=10.0, epsilon=1e-8), t.update(obs_mean=np.zeros(t["pi.0.weight"].shape[1]),
                      obs_var=np.full(t["pi.0.weight"].shape[1], -1.0))),  # fmt: skip
        "obs_var[0] = -1.0",
    ),
    "negative-epsilon": (
        lambda t, s: (s["normalize"].update(obs=True, clip=10.0, epsilon=-1.0), t.update(obs_mean=np.zeros(t["pi.0.weight"].shape[1]),
                      obs_var=np.ones(t["pi.0.weight"].shape[1]))),  # fmt: skip
        "normalize.epsilon = -1.0 must be a finite number >= 0",
    ),
    "zero-clip": (lambda t, s: s["normalize"].update(obs=True, clip=0, epsilon=1e-8), "normalize.clip = 0 must be a finite number > 0"),
    "string-normalize": (lambda t, s: s.__setitem__("normalize", {"obs": "yes"}), "normalize must be a table with obs = true or false"),
    "layers-not-a-list": (lambda t, s: s["network"].__setitem__("layers", "pi.0"), "network.layers must be a list"),
    "act-not-bool": (lambda t, s: s.__setitem__("act", {"deterministic": "sometimes"}), "deterministic = true or false"),
}


@pytest.mark.parametrize("name", BAD_NETWORKS)
def test_networks_with_invalid_values_are_refused(tmp_path, good, name):
    change, message = BAD_NETWORKS[name]
    rewrite_network(good, change)
    with pytest.raises(PolicyFileError) as e:
        LearnedPolicy.for_env(OrbitComputeEnv("three-body-12", max_cycles=2), path="policy.json", root=good)
    assert message in str(e.value)


def test_export_refuses_a_network_the_loader_would_refuse(tmp_path):
    """A diverged run's NaN weights are refused when exported, and nothing is written."""
    import torch

    from train.export import export_policy

    env = OrbitComputeEnv("three-body-12", max_cycles=2)
    policy = torch.nn.Module()
    policy.mlp_extractor = torch.nn.Module()
    policy.mlp_extractor.policy_net = torch.nn.Sequential(torch.nn.Linear(env.layout.size, 8), torch.nn.Tanh())
    policy.action_net = torch.nn.Linear(8, env.actions.n)
    export_policy(policy, tmp_path / "ok.safetensors", env.layout, env.actions)
    assert LearnedPolicy.for_env(env, path=tmp_path / "ok.json")
    with torch.no_grad():
        policy.action_net.bias[1] = float("nan")
    with pytest.raises(PolicyFileError, match="tensor logits.bias holds nan at index"):
        export_policy(policy, tmp_path / "nan.safetensors", env.layout, env.actions)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.json", "ok.safetensors"]


def test_huge_or_deeply_nested_specs_are_refused(good):
    env = OrbitComputeEnv("three-body-12", max_cycles=2)
    (good / "policy.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(PolicyFileError, match="is not valid JSON"):
        LearnedPolicy.for_env(env, path="policy.json", root=good)
    (good / "policy.json").write_text(" " * (2 * MIB) + "{}")
    with pytest.raises(PolicyFileError, match="is 2,097,154 bytes, more than the 1 MiB allowed"):
        LearnedPolicy.for_env(env, path="policy.json", root=good)
    (good / "policy.json").write_bytes(b'{"format": "\xff\xfe"}')
    with pytest.raises(PolicyFileError, match="is not valid JSON"):
        LearnedPolicy.for_env(env, path="policy.json", root=good)


HEURISTIC_PARAMS = {  # TOML text of params -> what the refusal says
    "soc_margin = nan": "soc_margin = nan must be a finite float",
    "soc_margin = inf": "soc_margin = inf must be a finite float",
    "temp_margin_c = -inf": "temp_margin_c = -inf must be a finite float",
    "soc_margin = true": "soc_margin = True must be a finite float",
    "temp_margin_c = -5": "temp_margin_c = -5 is out of range: allowed 0 to 100",
    "soc_margin = 2.0": "soc_margin = 2.0 is out of range: allowed 0 to 1",
    'soc_margin = "0.1"': "soc_margin = '0.1' must be a finite float",
}


@pytest.mark.parametrize("params", HEURISTIC_PARAMS)
def test_heuristic_parameters_must_be_finite_numbers_in_their_range(tmp_path, params):
    folder = submission(tmp_path, "h", {"heuristic": "edf-safe"})
    (folder / "submission.toml").write_text((folder / "submission.toml").read_text() + f"params = {{ {params} }}\n")
    assert HEURISTIC_PARAMS[params] in refusal(folder)


def test_parameters_of_a_heuristic_only_the_worker_knows_are_numbers(tmp_path):
    """They are sent to the worker as JSON: a TOML date would otherwise stop the evaluator itself."""
    folder = submission(tmp_path, "d", {"heuristic": "hangs"})
    (folder / "submission.toml").write_text((folder / "submission.toml").read_text() + "params = { when = 1979-05-27 }\n")
    assert "params = {'when': datetime.date(1979, 5, 27)} must all be numbers" in refusal(folder)


def test_every_heuristic_parameter_declares_a_range_that_holds_its_default():
    env = OrbitComputeEnv("three-body-12", max_cycles=2)
    for name in HEURISTICS:
        for key, default in heuristic_params(name).items():
            lo, hi = PARAM_RANGES[key]
            assert lo <= default <= hi, (name, key)
        make_policy(name, env, **heuristic_params(name))  # the defaults pass their own check
    with pytest.raises(ValueError, match="min_free_gap = 1.5 must be a finite int"):
        make_policy("balance", env, min_free_gap=1.5)
    with pytest.raises(ValueError, match="relay_margin_min = True must be a finite float"):
        make_policy("balance", env, relay_margin_min=True)


# ------------------------------------------------------------------------------------- careless submissions


CARELESS = {  # what is wrong -> (change to the [submission]/[policy] tables or raw text, what the refusal says)
    "misspelt field": (lambda m, p: m.__setitem__("scenario", ["three-body-12"]), "unknown field 'scenario'"),
    "unknown table": ("[extra]\nx = 1\n", "unknown field 'extra'"),
    "field of the other kind": (lambda m, p: p.__setitem__("spec", "x.json"), "unknown field 'spec'; the fields are heuristic, params"),
    "missing field": (lambda m, p: m.pop("tuned_on"), "missing field 'tuned_on'"),
    "no authors": (lambda m, p: m.__setitem__("authors", []), "authors = [] must be a list of names"),
    "negative steps": (lambda m, p: m.__setitem__("training_env_steps", -5), "training_env_steps = -5 must be >= 0"),
    "unknown kind": (lambda m, p: m.__setitem__("kind", "pickle"), "kind = 'pickle' is not one of heuristic, safetensors"),
}


@pytest.mark.parametrize("case", CARELESS)
def test_careless_submission_files_say_what_is_wrong(tmp_path, case):
    change, message = CARELESS[case]
    meta, policy = {"name": "careless", "kind": "heuristic", **META}, {"heuristic": "edf"}
    folder = tmp_path / "careless"
    folder.mkdir()
    text = _toml({"submission": meta, "policy": policy})
    if callable(change):
        change(meta, policy)
        text = _toml({"submission": meta, "policy": policy})
    else:
        text += change
    (folder / "submission.toml").write_text(text)
    assert message in refusal(folder)


def test_unreadable_toml_text_says_why(tmp_path):
    folder = submission(tmp_path, "enc", {"heuristic": "edf"})
    (folder / "submission.toml").write_bytes((folder / "submission.toml").read_bytes().replace(b"a test", b"caf\xe9 test"))
    assert "is not UTF-8 text (byte 0xe9 at offset" in refusal(folder)
    (folder / "submission.toml").write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert "is not valid TOML" in refusal(folder)
    folder = submission(tmp_path, "specs", {"spec": "policy.json", "specs": {"walker-999": "w.json"}}, kind="safetensors")
    assert "specs names 'walker-999', not shipped scenarios" in refusal(folder)


# ------------------------------------------------------------------------------------------ names


def test_two_folders_with_one_name_are_both_refused_naming_both(tmp_path):
    subs = tmp_path / "subs"
    first = submission(subs, "a", {"heuristic": "edf"})
    second = submission(subs, "b", {"heuristic": "greedy"})
    for folder in (first, second):
        toml = folder / "submission.toml"
        toml.write_text(toml.read_text().replace(f'name = "{folder.name}"', 'name = "same"'))
    by_name = {e.name: e for e in registered(subs)}
    assert "same" not in by_name
    for folder in ("a/", "b/"):
        assert by_name[folder].kind == "invalid"
        assert f"2 submission folders declare name 'same': {first}, {second}" in by_name[folder].error
    assert unique([resolve(str(first)), resolve(str(first))]) == [resolve(str(first))]  # the same folder twice is one entry


def test_a_broken_folder_named_after_a_baseline_cannot_fail_the_baseline(tmp_path):
    """An invalid submission is recorded under its folder name plus '/', which no valid entry can have."""
    subs = tmp_path / "subs"
    (subs / "edf-safe").mkdir(parents=True)
    (subs / "edf-safe" / "submission.toml").write_text("not toml [")
    entries = [e for e in registered(subs) if e.name in ("edf-safe", "edf-safe/", "random")]
    store = Store(tmp_path / "s.sqlite")
    evaluate(entries, TINY, "test", store, workers=2, progress=False)
    board = {e.name: e.status for e in build_board(store, TINY, "test").entries}
    store.close()
    assert board == {"edf-safe": "ranked", "random": "ranked", "edf-safe/": "failed"}


# ------------------------------------------------------------------------- the evaluator carries on


def test_the_evaluator_records_each_hostile_submission_and_evaluates_the_rest(tmp_path):
    """Through the real CLI and workers: every hostile folder is a recorded failure with its reason, the
    good network and the baseline are ranked, nothing hangs (the subprocess has a time limit)."""
    subs = tmp_path / "subs"
    good = net_submission(subs, "good")
    hostile = {}
    folder = net_submission(subs, "dev-zero")
    (folder / "policy.safetensors").unlink()
    (folder / "policy.safetensors").symlink_to("/dev/zero")
    hostile["dev-zero/"] = "is a symbolic link"
    folder = submission(subs, "fifo", {"heuristic": "edf"})
    (folder / "submission.toml").unlink()
    os.mkfifo(folder / "submission.toml")
    hostile["fifo/"] = "is a FIFO"
    folder = net_submission(subs, "nan-net")
    rewrite_network(folder, BAD_NETWORKS["nan-weight"][0])
    hostile["nan-net"] = "holds nan at index (3, 5)"
    folder = submission(subs, "nan-param", {"heuristic": "edf-safe"})
    (folder / "submission.toml").write_text((folder / "submission.toml").read_text() + "params = { soc_margin = nan }\n")
    hostile["nan-param/"] = "soc_margin = nan must be a finite float"
    db = tmp_path / "r.sqlite"
    folders = [str(good), *(str(subs / n.rstrip("/")) for n in hostile)]
    cmd = [sys.executable, "-m", "orbit_env.cli", "evaluate", "random", "edf-safe", *folders, "--suite", "smoke", "--scenario", "three-body-12"]
    out = subprocess.run([*cmd, "--db", str(db), "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    from leaderboard.suite import SMOKE

    store = Store(db, readonly=True)
    board = {e.name: e for e in build_board(store, SMOKE, "test").entries}
    store.close()
    assert board["good"].status == "partial" and board["random"].done == board["edf-safe"].done == 2
    for name, reason in hostile.items():
        assert board[name].status == "failed" and reason in board[name].reason, (name, board[name].reason)
        assert board[name].done == 0  # never scored as episodes
