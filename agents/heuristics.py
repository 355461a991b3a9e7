"""Baseline heuristics. They see only the agents' observations, read by field name, so comparisons with
learned policies are fair (the energy-aware ones add the scenario's static data sheet, see ``datasheet``).

They form a ladder, each adding one idea to the one before, so the board reads as an ablation:

| name | adds |
|---|---|
| random | uniform over legal actions (the board's zero) |
| greedy | run the first runnable job at full power |
| edf | earliest deadline first, still at full power |
| edf-safe | the power level that does the most work while the battery stays above safe mode through the next eclipse and the GPU below its throttle temperature (the board's reference, 100) |
| edf-ckpt | checkpoints at the Young/Daly interval for the current upset rate, and before entering the SAA |
| balance | sends finished results to neighbours that reach the ground sooner, and queued jobs to less loaded neighbours with sun and battery |

With agent admission (``ground.admission = "agent"``) every heuristic but random admits through one rule,
``admit_earliest``: the earliest-deadline window entry the mask allows (a link, a free slot, the bytes
free), whenever admitting costs no compute; edf-safe and those above it also need the battery above their
safe-mode floor. Random stays uniform over the legal actions, admits included.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from agents import decode
from agents.datasheet import Datasheet
from agents.policy import ArrayPolicy


class RandomPolicy(ArrayPolicy):
    """Uniform over the legal actions (the leaderboard's zero)."""

    name = "random"

    def act_arrays(self, obs, mask):
        return (self.random(mask.shape) * mask).argmax(axis=-1)


def admit_earliest(policy: ArrayPolicy, obs, mask, base, allow=None) -> np.ndarray:
    """``base`` with admit(g) of the earliest-deadline admissible window entry where admitting costs no
    compute: base idles with nothing loaded, or runs the loaded job at its current level (an admit keeps
    the loaded job running at that level). ``allow`` (...,) bool further limits who admits."""
    L, A = policy.layout, policy.actions
    if A.G == 0:
        return base
    can = mask[..., A.admit(np.arange(A.G))] > 0
    if allow is not None:
        can &= allow[..., None]
    g = np.where(can, L.window_field(obs, "deadline"), np.inf).argmin(axis=-1)
    active = L.slot_field(obs, "active") > 0.5
    loaded = active.any(axis=-1)
    level_now = np.rint(L.own_field(obs, "power_level") * (A.P - 1)).astype(int)
    free = np.where(loaded, base == A.run(active.argmax(axis=-1), level_now), base == A.IDLE)
    return np.where(can.any(axis=-1) & free, A.admit(g), base)


class GreedyPolicy(ArrayPolicy):
    """Run the first runnable job at full power; otherwise idle. Blind to energy, heat and deadlines."""

    name = "greedy"

    def act_arrays(self, obs, mask):
        top = self.actions.P - 1
        legal = mask[..., self.actions.run(np.arange(self.actions.K), top)] > 0
        k, any_job = legal.argmax(axis=-1), legal.any(axis=-1)
        return admit_earliest(self, obs, mask, np.where(any_job, self.actions.run(k, top), self.actions.IDLE))


class EDFPolicy(ArrayPolicy):
    """Earliest deadline first at full power: run the runnable job whose deadline is nearest."""

    name = "edf"

    def pick_job(self, obs, mask) -> tuple[np.ndarray, np.ndarray]:
        """(slot of the runnable job with the nearest deadline, whether there is one)."""
        runnable = mask[..., self.actions.run(np.arange(self.actions.K), 0)] > 0
        deadline = np.where(runnable, self.layout.slot_field(obs, "deadline"), np.inf)
        return deadline.argmin(axis=-1), runnable.any(axis=-1)

    def pick_level(self, obs) -> np.ndarray:
        """Power level to run at, -1 where running is not allowed."""
        return np.full(obs.shape[:-1], self.actions.P - 1)

    def may_admit(self, obs) -> np.ndarray | None:
        """Which satellites may admit a job (None: all that the mask allows)."""
        return None

    def act_arrays(self, obs, mask):
        k, has_job = self.pick_job(obs, mask)
        level = self.pick_level(obs)
        base = np.where(has_job & (level >= 0), self.actions.run(k, np.maximum(level, 0)), self.actions.IDLE)
        return admit_earliest(self, obs, mask, base, self.may_admit(obs))


class SafeEDFPolicy(EDFPolicy):
    """EDF at the power level that does the most work without risking safe mode or the GPU throttle.

    Energy: each step plans the rest of this sunlit period and the next eclipse. A choice (idle or a
    level) is worth the work it does now plus the most work the battery then allows in the eclipse, where
    running at a level lasts until only the charge to idle to sunrise ``soc_margin`` above safe mode is
    left; a choice that cannot even idle through the longest eclipse of the orbit is ruled out. Lower
    caps do more work per watt-hour, so an energy-limited satellite runs them; with energy to spare it
    runs the top level. Heat: a level is allowed only if the GPU at its cap stays ``temp_margin_c`` below
    the throttle temperature (the GPU sits ``gpu_k_per_w`` x cap above the radiator node).
    """

    name = "edf-safe"

    def __init__(self, layout, actions, sheet: Datasheet, soc_margin: float = 0.05, temp_margin_c: float = 1.0):
        super().__init__(layout, actions)
        self.sheet, self.soc_margin, self.temp_margin_c = sheet, float(soc_margin), float(temp_margin_c)
        self.floor_wh = (sheet.safe_soc + self.soc_margin) * sheet.battery_wh
        self.speed = np.concatenate([[0.0], sheet.speeds])  # (C,) choices: idle, then each level
        gpu_w = np.concatenate([[sheet.idle_w], sheet.caps_w])
        self.load = np.stack([sheet.load_w(gpu_w, 0.0), sheet.load_w(gpu_w, 1.0)])  # (2, C): without, with a contact
        self.drain = sheet.drain_wh_per_s(self.load)

    @classmethod
    def for_env(cls, env, **params):
        return cls(env.layout, env.actions, Datasheet.from_scenario(env.scenario), **params)

    def may_admit(self, obs):
        """Storage is in the mask; energy: only above the safe-mode floor plus the margin."""
        return self.layout.own_field(obs, "soc") * self.sheet.battery_wh >= self.floor_wh

    def eclipse_work(self, energy, seconds, drain) -> np.ndarray:
        """(..., C) full-speed seconds of work each choice does in an eclipse of ``seconds``, running until
        the battery holds just what idling to the end needs above the floor; -inf if idling alone breaches it.
        ``drain`` (..., C) is each choice's battery drain, choice 0 being idle."""
        spare = energy - self.floor_wh - drain[..., :1] * seconds
        extra = drain - drain[..., :1]
        with np.errstate(divide="ignore", invalid="ignore"):
            run_s = np.where(extra > 0, np.minimum(seconds, spare / extra), seconds)
        return np.where(spare >= 0, self.speed * run_s, -np.inf)

    def pick_level(self, obs):
        L, s = self.layout, self.sheet
        energy = L.own_field(obs, "soc")[..., None] * s.battery_wh
        tau = decode.orbit_seconds(L.own_field(obs, "t_light_change"))[..., None]
        contact = (L.own_field(obs, "contact") > 0.5).astype(np.intp)
        load, drain = self.load[contact], self.drain[contact]
        # sunlit: work until the eclipse, plus the most the battery then allows through the longest eclipse
        entry = s.energy_after(energy, True, load, tau)
        after = self.eclipse_work(entry[..., None], s.eclipse_s, drain[..., None, :]).max(axis=-1)
        value = np.where(np.isfinite(after), self.speed * tau + after, -np.inf)
        # in eclipse: the work of each choice until sunrise
        dark = L.own_field(obs, "sunlit") < 0.5
        value[dark] = self.eclipse_work(energy[dark], tau[dark], drain[dark])
        node_c = decode.node_temp_c(L.own_field(obs, "temp"))[..., None]
        value[..., 1:] = np.where(node_c + s.k_per_w * s.caps_w < s.throttle_c - self.temp_margin_c, value[..., 1:], -np.inf)
        return value.argmax(axis=-1) - 1  # all ruled out: argmax is 0, idle


class CheckpointPolicy(SafeEDFPolicy):
    """edf-safe that checkpoints the running job at the Young/Daly interval and before the SAA.

    Young/Daly: with checkpoint cost C and mean time between upsets M, checkpointing every sqrt(2 C M)
    minimises expected lost time; M shrinks ``saa_multiplier``-fold inside the South Atlantic Anomaly.
    Just before entering the SAA, any work at risk worth more than a checkpoint is saved.
    """

    name = "edf-ckpt"

    def act_arrays(self, obs, mask):
        return self.with_checkpoints(obs, mask, super().act_arrays(obs, mask))

    def with_checkpoints(self, obs, mask, base):
        """``base`` with a checkpoint where the rule wants one and ``base`` would keep the loaded job at its level."""
        L, s, A = self.layout, self.sheet, self.actions
        active = L.slot_field(obs, "active") > 0.5
        k = active.argmax(axis=-1)
        pick = lambda field: np.take_along_axis(L.slot_field(obs, field), k[..., None], axis=-1)[..., 0]  # noqa: E731
        cost_s = s.checkpoint_s(decode.checkpoint_bytes(pick("checkpoint")))
        risk_s = decode.at_risk_hours(pick("at_risk")) * 3600.0
        in_saa = L.own_field(obs, "in_saa") > 0.5
        with np.errstate(divide="ignore"):
            interval_s = np.sqrt(2.0 * cost_s / s.upset_rate_per_s(in_saa))
        saa_next = ~in_saa & (decode.orbit_seconds(L.own_field(obs, "t_saa_change")) <= s.dt_s)
        want = (risk_s >= interval_s) | (saa_next & (risk_s > cost_s))
        level_now = np.rint(L.own_field(obs, "power_level") * (A.P - 1)).astype(int)
        continues = active.any(axis=-1) & (base == A.run(k, level_now))  # a checkpoint keeps job and level
        return np.where(want & continues & (mask[..., A.CHECKPOINT] > 0), A.CHECKPOINT, base)


class BalancePolicy(CheckpointPolicy):
    """edf-ckpt that uses the laser links to spread work and reach the ground sooner.

    A finished result goes to the neighbour whose next ground contact is at least ``relay_margin_min``
    sooner than ours: a relay costs only a laser terminal's second (the accelerators keep running), so the
    margin just has to stop results bouncing between neighbours whose contacts are equally near.
    Otherwise, with a job waiting behind the running one, the waiting job with the latest deadline goes
    to a neighbour with at least ``min_free_gap`` more free slots that is in sunlight
    or has ``spare_soc`` of charge above safe mode, preferring sun, charge and a coming contact, unless the
    step admits a job (agent admission). Both rules move work only downhill (sooner contact, less load), so
    nothing ping-pongs.
    """

    name = "balance"

    def __init__(
        self, layout, actions, sheet: Datasheet, relay_margin_min: float = 2.0, min_free_gap: int = 2, spare_soc: float = 0.3, **params
    ):
        super().__init__(layout, actions, sheet, **params)
        self.relay_margin_min, self.min_free_gap = float(relay_margin_min), int(min_free_gap)
        self.min_soc = sheet.safe_soc + float(spare_soc)

    def act_arrays(self, obs, mask):
        return self.with_sends(obs, mask, super().act_arrays(obs, mask))

    def with_sends(self, obs, mask, base):
        """``base`` with the relay and offload sends of the rule above."""
        L, A = self.layout, self.actions
        if A.M == 0:
            return base
        # send(k, m) is legal iff slot k holds a movable job and terminal m leads to a live neighbour with room
        send_ok = mask[..., A.send(np.arange(A.K)[:, None], np.arange(A.M))] > 0  # (..., K, M)
        movable, link_ok = send_ok.any(axis=-1), send_ok.any(axis=-2)
        wait = lambda own, nb: np.where(own > 0.5, 0.0, decode.contact_minutes(nb))  # noqa: E731
        gain = wait(L.own_field(obs, "contact"), L.own_field(obs, "t_contact_next"))[..., None] - wait(
            L.neigh_field(obs, "contact"), L.neigh_field(obs, "t_contact_next")
        )  # (..., M) minutes sooner that each neighbour reaches the ground

        # a finished result: toward the neighbour that reaches the ground soonest
        result = (L.slot_field(obs, "result") > 0.5) & movable
        k_res = result.argmax(axis=-1)
        toward = np.where(link_ok & (gain >= self.relay_margin_min), gain, -np.inf)
        m_res = toward.argmax(axis=-1)
        relay = result.any(axis=-1) & np.isfinite(toward.max(axis=-1))

        # a queued job (the latest deadline) to a less loaded neighbour in sunlight or with charge to spare
        runnable = L.slot_field(obs, "runnable") > 0.5
        waiting = runnable & (L.slot_field(obs, "active") < 0.5) & movable
        k_off = np.where(waiting, L.slot_field(obs, "deadline"), -np.inf).argmax(axis=-1)
        nb_free = L.neigh_field(obs, "free_slots") * A.K
        own_free = (1.0 - L.own_field(obs, "queue_fill")) * A.K
        nb_soc, nb_sun = L.neigh_field(obs, "soc"), L.neigh_field(obs, "sunlit")
        fit = link_ok & (nb_free - own_free[..., None] >= self.min_free_gap) & ((nb_sun > 0.5) | (nb_soc >= self.min_soc))
        score = np.where(fit, nb_free + nb_sun + nb_soc + (1.0 - L.neigh_field(obs, "t_contact_next")), -np.inf)
        # never instead of an admit: contact steps are scarce, a neighbour is reachable at any time
        offload = (runnable.sum(axis=-1) >= 2) & waiting.any(axis=-1) & fit.any(axis=-1) & (base < A.admit(0))

        out = np.where(offload, A.send(k_off, score.argmax(axis=-1)), base)
        return np.where(relay, A.send(k_res, m_res), out)


HEURISTICS: dict[str, type[ArrayPolicy]] = {
    p.name: p for p in (RandomPolicy, GreedyPolicy, EDFPolicy, SafeEDFPolicy, CheckpointPolicy, BalancePolicy)
}
REFERENCE = SafeEDFPolicy.name  # the leaderboard's 100 (random is its 0)


def policy_classes() -> dict[str, type[ArrayPolicy]]:
    """Every policy ``make_policy`` builds by name: the heuristics and the planners (``agents.planner``, which
    builds on the heuristics, hence the late import). The planners' episodes cost minutes each: the board
    runs them on a subset of the seeds (leaderboard.entries.planners, docs/planner.md)."""
    from agents.planner import PLANNERS

    return {**HEURISTICS, **PLANNERS}


def heuristic_params(name: str) -> dict[str, object]:
    """The tunable parameters of a heuristic (or planner) and their defaults."""
    cls = policy_classes()[name]
    params = {}
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.default is not inspect.Parameter.empty:
                    params.setdefault(p.name, p.default)
    return params


# The declared range (inclusive) of every tunable parameter: values outside are refused, not run.
PARAM_RANGES: dict[str, tuple[float, float]] = {
    "soc_margin": (0.0, 1.0),  # fraction of the battery kept above safe mode
    "temp_margin_c": (0.0, 100.0),  # kelvin below the throttle temperature; 100 K below it no GPU ever runs
    "relay_margin_min": (0.0, 1440.0),  # minutes sooner to the ground; a day exceeds any gap between contacts
    "min_free_gap": (0, 64),  # queue slots
    "spare_soc": (0.0, 1.0),  # fraction of the battery above safe mode
    "horizon_orbits": (0.05, 4.0),  # planner horizon; 4 orbits at 120 s are ~180 steps, programs of ~1,500 variables
    "block_steps": (1, 60),  # planner steps per relaxed block
    "replan_every": (1, 1440),  # planner steps between periodic decisions; a day at 60 s
    "time_limit_s": (0.0, 60.0),  # HiGHS seconds per decision
    "partial_credit": (0.0, 1.0),  # fraction of a job's value credited per unit of work left unfinished at the horizon
}


def check_params(name: str, params: dict[str, object]) -> None:
    """ValueError unless ``params`` are parameters of heuristic ``name``, each a number of its default's
    type (an int where a float is expected is fine, a boolean never) that is finite and inside its range."""
    allowed = heuristic_params(name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"{name} has no parameter {', '.join(unknown)}; its parameters: {allowed or 'none'}")
    for key, value in params.items():
        typ, (lo, hi) = type(allowed[key]), PARAM_RANGES[key]
        if isinstance(value, bool) or not isinstance(value, (typ, int)) or not math.isfinite(value):
            raise ValueError(f"{name} parameter {key} = {value!r} must be a finite {typ.__name__}")
        if not lo <= value <= hi:
            raise ValueError(f"{name} parameter {key} = {value!r} is out of range: allowed {lo:g} to {hi:g}")


def make_policy(name: str, env, seed: int | None = None, **params) -> ArrayPolicy:
    """A heuristic or planner by name for ``env``, with optional parameters; unknown names or parameters list the known
    ones, and a value of the wrong type or outside its declared range is refused."""
    known = policy_classes()
    if name not in known:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(known)}")
    check_params(name, params)
    policy = known[name].for_env(env, **params)
    policy.reset(seed)
    return policy
