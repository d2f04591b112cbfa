"""Feed NMPC: constraints in closed loop on a mismatched plant, fallback, warm start, config."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from biofab.core.errors import InputError
from biofab.process.closed_loop import (
    ExponentialFeed,
    closed_loop,
    mismatched_plant,
    trajectory_figure,
)
from biofab.process.models import EColiFedBatch
from biofab.process.mpc import FeedMPC
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
