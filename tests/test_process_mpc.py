"""Feed NMPC: constraints in closed loop on a mismatched plant, fallback, warm start, config."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest

from biofab.core.errors import InputError
from biofab.core.scenario_yaml import ScenarioError
from biofab.process.closed_loop import (
    ExponentialFeed,
    closed_loop,
    mismatched_plant,
    trajectory_figure,
)
from biofab.process.models import EColiFedBatch
from biofab.process.mpc import FeedMPC
from biofab.process.scenario import Scenario
from biofab.process.simulate import Exponential

X0 = {"X": 10.0, "S": 0.05, "A": 0.0, "P": 0.0, "DO": 60.0, "V": 1.0}
# short batch so the file stays fast: 6 h in 0.75 h intervals, horizon to the end
T_END, DT, H, DO_MIN, V_MAX = 6.0, 0.75, 8, 30.0, 1.06


def _mpc(**kw: object) -> FeedMPC:
    args = {
        "horizon": H,
        "dt_h": DT,
        "t_end_h": T_END,
        "do_min": DO_MIN,
        "v_max": V_MAX,
        "f_max": 0.05,
        "do_backoff": 2.0,
    }
    args.update(kw)
    return FeedMPC(EColiFedBatch(), **args)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def runs() -> dict[str, object]:
    model = EColiFedBatch()
    plant = mismatched_plant(model)
    common = {"t_end_h": T_END, "dt_h": DT, "do_min": DO_MIN, "v_max": V_MAX, "seed": 0}
    mpc = closed_loop(_mpc(), model, plant, X0, label="mpc", **common)
    design = Exponential.for_growth(0.15, 10.0, 1.0, 500.0, 0.5, 0.04)
    feed = ExponentialFeed(F0=design.F0, mu_set=0.15, do_min=DO_MIN, v_max=V_MAX, dt_h=DT)
    exp = closed_loop(feed, model, plant, X0, label="exp", **common)
    return {"mpc": mpc, "exp": exp}


def test_closed_loop_keeps_constraints_on_mismatched_plant(runs: dict) -> None:
    r = runs["mpc"]
    assert r.do_worst <= 1.0  # %-points below the floor, on the plant
    assert r.v_over <= 2e-3  # L; the controller sees a noisy volume (sd 5 mL)
    assert r.fallbacks == 0
    assert np.isfinite(r.frame[["X", "S", "P", "DO", "V", "F"]].to_numpy()).all()
    # the re-fit found the plant's oxygen transfer (kLa x0.8 = 480 /h) within 5 %
    assert abs(r.steps["kLa"].dropna().iloc[-1] - 480.0) < 24.0


def test_mpc_beats_or_matches_exponential_feed(runs: dict) -> None:
    assert runs["mpc"].product_g >= 0.98 * runs["exp"].product_g


def test_infeasible_do_floor_gives_logged_fallback(caplog: pytest.LogCaptureFixture) -> None:
    mpc = _mpc(do_min=101.0, horizon=4)
    x = [10.0, 0.05, 0.0, 0.0, 40.0, 1.0]
    with caplog.at_level(logging.WARNING, logger="biofab.process.mpc"):
        F, info = mpc.step(x, t_h=0.0, f_prev=0.01)
    assert info["fallback"] and "saturation" in info["cause"]
    assert math.isfinite(F) and 0.0 <= F <= 0.01
    assert any("saturation" in rec.getMessage() for rec in caplog.records)
    assert mpc.history_[-1]["fallback"] and mpc.history_[-1]["cause"] == info["cause"]


def test_unreachable_floor_is_detected_from_the_solution() -> None:
    # 95 % cannot be held at X = 40 g/L whatever the feed: solver finds the slack
    mpc = _mpc(do_min=95.0, horizon=4)
    F, info = mpc.step([40.0, 0.05, 0.0, 0.0, 40.0, 1.0], t_h=0.0, f_prev=0.02)
    assert info["fallback"] and "cannot be kept" in info["cause"]
    assert math.isfinite(F) and F <= 0.02


def test_full_vessel_and_nan_estimate_fall_back() -> None:
    mpc = _mpc(horizon=4)
    F, info = mpc.step([10.0, 0.05, 0.0, 0.0, 40.0, V_MAX + 0.01], t_h=0.0, f_prev=0.02)
    assert info["fallback"] and "V_max" in info["cause"] and F == 0.0
    F, info = mpc.step([math.nan, 0.05, 0.0, 0.0, 40.0, 1.0], t_h=0.0, f_prev=0.02)
    assert info["fallback"] and "NaN" in info["cause"] and math.isfinite(F)


def test_warm_start_needs_fewer_iterations() -> None:
    mpc = _mpc()
    _, first = mpc.step([10.0, 0.05, 0.0, 0.0, 40.0, 1.0], t_h=0.0)
    x1 = first["predicted"][1]  # the plant did what the model said
    _, warm = mpc.step(x1, t_h=DT)
    _, cold = _mpc(warm_start=False).step(x1, t_h=DT, f_prev=first["F"])
    assert not warm["fallback"] and not cold["fallback"]
    assert warm["iterations"] < cold["iterations"]
    assert abs(warm["F"] - cold["F"]) < 1e-3


@pytest.mark.parametrize(
    ("kw", "word"),
    [
        ({"horizon": -1}, "horizon"),
        ({"f_min": 0.1, "f_max": 0.05}, "f_min > f_max"),
        ({"dt_h": 0.0}, "dt_h"),
        ({"objective": "biomass"}, "objective"),
    ],
)
def test_bad_config_raises_input_error(kw: dict, word: str) -> None:
    with pytest.raises(InputError, match=word):
        _mpc(**kw)


def test_figure_goes_into_an_html_page(runs: dict) -> None:
    from biofab.viz import html_page

    fig = trajectory_figure([runs["mpc"], runs["exp"]])
    page = html_page("closed loop", [("trajectories", fig)])
    assert "plotly" in page.lower() and len(fig.data) >= 12


# -- temperature, induction and the volume back-off (issue 13) ------------------------------
def test_temperature_is_a_bounded_rate_limited_decision() -> None:
    mpc = _mpc(horizon=4, temperature_bounds=(30.0, 40.0), max_delta_t=1.0)
    _, info = mpc.step([10.0, 0.05, 0.0, 0.0, 40.0, 1.0], t_h=0.0, t_prev=37.0)
    plan_t = info["plan_T"]
    assert not info["fallback"] and plan_t.min() >= 30.0 - 1e-6 and plan_t.max() <= 40.0 + 1e-6
    steps = np.diff(np.concatenate([[37.0], plan_t]))
    assert np.all(np.abs(steps) <= 1.0 + 1e-6)
    # the twin's CTMI factor rises up to T_opt = 40 °C: warmer is better, one step at a time
    assert info["T"] == pytest.approx(38.0, abs=1e-3)
    _, held = _mpc(horizon=4).step([10.0, 0.05, 0.0, 0.0, 40.0, 1.0], t_h=0.0)
    assert np.allclose(held["plan_T"], 37.0) and held["T"] == 37.0


def test_closed_loop_applies_the_controllers_temperature(runs: dict) -> None:
    model = EColiFedBatch()
    mpc = _mpc(temperature_bounds=(30.0, 40.0))
    common = {"t_end_h": T_END, "dt_h": DT, "do_min": DO_MIN, "v_max": V_MAX, "seed": 0}
    r = closed_loop(mpc, model, mismatched_plant(model), X0, **common)
    applied = r.steps["T"].dropna().to_numpy()
    assert applied[0] == pytest.approx(38.0, abs=1e-3) and applied.max() > 39.9
    # the plant ran at the controller's temperature, interval by interval
    grid_t = r.frame.set_index("time_h")["T"]
    assert grid_t.loc[DT / 8] == pytest.approx(applied[0])
    assert r.do_worst <= 1.0 and r.fallbacks == 0
    assert r.product_g > runs["mpc"].product_g  # same seed, fixed 37 °C
    assert runs["mpc"].temperature_mean == 37.0


def test_induction_scheduled_or_chosen() -> None:
    model = EColiFedBatch()
    plant = mismatched_plant(model)
    common = {"t_end_h": 3.0, "dt_h": DT, "do_min": DO_MIN, "v_max": 1.2, "seed": 0}
    mpc = FeedMPC(model, horizon=4, dt_h=DT, t_end_h=3.0, v_max=1.2, induction_times=[1.5])
    r = closed_loop(mpc, model, plant, X0, induction_h=1.5, **common)
    assert r.induction_h == 1.5
    assert r.steps["ind"].tolist()[:4] == [0.0, 0.0, 1.0, 1.0]
    assert r.frame.loc[r.frame["time_h"] <= 1.5, "P"].max() == 0.0  # no product before
    assert r.frame["P"].iloc[-1] > 0.0
    # the controller chooses among candidates; the loop leaves it the choice (inf)
    choose = FeedMPC(model, horizon=4, dt_h=DT, t_end_h=3.0, v_max=1.2, induction_times=[0, 1.5])
    _, info = choose.step(settle_x0(model), t_h=0.0)
    assert info["induction_at"] in (0.0, 1.5) and info["ind"] == float(info["induction_at"] == 0)
    assert choose.induced_ == (info["ind"] == 1.0)


def settle_x0(model: EColiFedBatch) -> list[float]:
    return [X0[s] for s in model.states]


def test_volume_backoff_stops_overshoot_and_chatter() -> None:
    """Tight vessel (binds after ~4 h): without back-off the noisy volume reading makes the
    plant overshoot V_max and the feed stop-start; with it neither happens."""
    model = EColiFedBatch()
    plant = mismatched_plant(model)
    v_max = 1.04
    common = {"t_end_h": T_END, "dt_h": DT, "do_min": DO_MIN, "v_max": v_max, "seed": 0}
    plain = closed_loop(_mpc(v_max=v_max), model, plant, X0, **common)
    robust_mpc = _mpc(v_max=v_max, v_backoff=2.0, move_penalty_l1=0.3)
    robust = closed_loop(robust_mpc, model, plant, X0, volume_drift_std=2e-4, **common)
    assert plain.v_over > 5e-4 and plain.feed_reversals_near_vmax >= 1  # the defect
    assert robust.v_over == 0.0 and robust.fallbacks == 0
    assert robust.feed_reversals_near_vmax == 0
    limits = robust.steps["v_limit"].dropna()
    assert (limits < v_max).all()  # tightened by 2 sigma of the filter's volume
    sigma = robust.steps["V_std"].iloc[: len(limits)].to_numpy()
    assert np.allclose(limits.to_numpy(), v_max - 2.0 * sigma)


def test_estimate_above_tightened_limit_holds_the_feed() -> None:
    mpc = _mpc(horizon=4, v_backoff=3.0)
    x = [10.0, 0.05, 0.0, 0.0, 40.0, V_MAX - 0.005]  # above V_max - 3 x 5 mL
    F, info = mpc.step(x, t_h=0.0, v_std=0.005, f_prev=0.01)
    assert not info["fallback"] and pytest.approx(0.0, abs=1e-6) == F
    F, info = mpc.step(x, t_h=0.0, v_std=math.nan)
    assert info["fallback"] and "volume standard deviation" in info["cause"]


@pytest.mark.parametrize(
    ("kw", "word"),
    [
        ({"temperature_bounds": (40.0, 30.0)}, "temperature_bounds"),
        ({"temperature_bounds": (30.0,)}, "temperature_bounds"),
        ({"induction_times": []}, "induction_times"),
        ({"induction_times": [-1.0]}, "induction_times"),
        ({"v_backoff": -1.0}, "v_backoff"),
        ({"move_penalty_l1": math.nan}, "move_penalty_l1"),
        ({"max_delta_t": 0.0}, "max_delta_t"),
    ],
)
def test_bad_input_settings_raise(kw: dict, word: str) -> None:
    with pytest.raises(InputError, match=word):
        _mpc(**kw)


CONTROL_YAML = (
    "model: ecoli\ninitial: {X: 10.0, S: 0.05, A: 0.0, P: 0.0, DO: 60.0, V: 1.0}\n"
    "t_end: 1.5\ncontrol: {dt: 0.75, horizon: 2, v_max: 1.1, CONTROL}\n"
)


def test_scenario_control_keys_reach_the_closed_loop(tmp_path: Path) -> None:
    from biofab.process.workflows import ControlRequest, control

    extra = (
        "temperature: {min: 30, max: 40, start: 36}, max_temperature_step: 2, "
        "induction_at: [0.75, 5], v_backoff: 2, volume_drift: 0.0002, move_penalty_l1: 0.3, "
        "compare_mu_set: 0.15"
    )
    path = tmp_path / "c.yaml"
    path.write_text(CONTROL_YAML.replace("CONTROL", extra))
    s = Scenario.from_yaml(path)
    c = s.control
    assert c is not None and c.temperature_range == (30.0, 40.0) and c.temperature == 36.0
    assert c.induction_candidates == (0.75, 5.0) and c.v_backoff == 2.0
    result = control(ControlRequest(scenario=s))
    steps = result.runs[0].steps
    assert steps["T"].iloc[0] == pytest.approx(38.0, abs=1e-3)  # 36 + 2 per interval
    assert steps["v_limit"].iloc[0] < 1.1
    assert steps["ind"].iloc[0] == 0.0  # candidates 0.75 and 5 h: not induced at 0
    reference = result.runs[1]  # exponential feed: induced at 0 h, held at 36 °C
    assert reference.induction_h == 0.0 and reference.temperature_mean == 36.0


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("temperature: {min: 40, max: 30}", ["control.temperature.min", "inverted"]),
        ("temperature: {min: 30, max: 40, start: 45}", ["control.temperature.start", "45"]),
        ("temperature: {min: 30}", ["control.temperature", "max"]),
        ("temperature: {low: 30, max: 40}", ["control.temperature", "low"]),
        ("induction_at: [1, -2]", ["control.induction_at", "-2"]),
        ("induction_at: []", ["control.induction_at", "non-empty list"]),
        ("v_backoff: -1", ["control.v_backoff", "-1"]),
        ("volume_drift: 0", ["control.volume_drift", "0"]),
    ],
)
def test_bad_control_keys_name_the_key(tmp_path: Path, extra: str, words: list[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CONTROL_YAML.replace("CONTROL", extra))
    with pytest.raises(ScenarioError) as err:
        Scenario.from_yaml(path)
    text = str(err.value)
    assert "bad.yaml" in text and all(w in text for w in words), text
