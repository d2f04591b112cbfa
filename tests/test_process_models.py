"""Mechanistic twins: balances close, overflow above the threshold, DO, events, CHO sanity,
NumPy and CasADi agree, blow-ups are reported."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from biofab.core.errors import BiofabError, InputError
from biofab.process.models import ChoFedBatch, EColiFedBatch, scalar_backend
from biofab.process.simulate import (
    Bolus,
    Constant,
    Exponential,
    FeedStart,
    FeedStop,
    Induction,
    Piecewise,
    SetInput,
    SimulationError,
    input_schedule,
    simulate,
)

X0 = {"X": 0.1, "S": 10.0, "A": 0.0, "P": 0.0, "DO": 100.0, "V": 1.0}
CHO0 = {"Xv": 0.3, "Glc": 30.0, "Gln": 4.0, "Lac": 0.0, "Amm": 0.0, "P": 0.0, "V": 1.0}


def test_glucose_and_volume_balances_close() -> None:
    # Integrate the twin together with cumulative glucose consumption ∫ qS X V dt.
    m = EColiFedBatch()
    p = m.param_vector().tolist()
    F = 0.01
    u = [F, 37.0, 0.0]

    def f(t: float, y: np.ndarray) -> np.ndarray:
        x = y[:6].tolist()
        dx = m.rhs(t, x, u, p, xp=scalar_backend)
        qs = m.rates(t, x, u, p, xp=scalar_backend)["qS"]
        return np.array([*dx, qs * x[0] * x[5]])

    y0 = [*m.state_vector(X0), 0.0]
    sol = solve_ivp(f, (0, 10), y0, method="LSODA", rtol=1e-11, atol=1e-12)
    S, V, used = sol.y[1, -1], sol.y[5, -1], sol.y[6, -1]
    fed = F * 10 * m.params["Sf"]
    assert pytest.approx(1.0 + F * 10, rel=1e-9) == V
    assert (S * V + used) == pytest.approx(10.0 * 1.0 + fed, rel=1e-6)


def test_volume_balance_with_events_and_bolus() -> None:
    m = EColiFedBatch()
    events = [
        FeedStart(2.0, Constant(0.02)),
        FeedStop(6.0),
        Bolus(7.0, volume=0.1, concentrations={"S": 200.0}),
    ]
    tr = simulate(m, X0, 8.0, events=events, t_eval=[0, 1.99, 2.0, 6.0, 6.99999, 7.0, 8.0])
    V = dict(zip(tr["time_h"], tr["V"], strict=True))
    assert V[1.99] == pytest.approx(1.0)
    assert V[6.0] == pytest.approx(1.0 + 0.02 * 4, rel=1e-9)
    assert V[7.0] == pytest.approx(1.0 + 0.08 + 0.1, rel=1e-9)
    S = dict(zip(tr["time_h"], tr["S"], strict=True))
    # The bolus brings 20 g glucose into 1.18 L (right-continuous: the sample at 7 h is after).
    assert S[7.0] - S[6.99999] * 1.08 / 1.18 == pytest.approx(20.0 / 1.18, rel=1e-3)
    assert list(tr.events["time_h"]) == [2.0, 6.0, 7.0]
    F = dict(zip(tr["time_h"], tr["F"], strict=True))
    assert F[1.99] == 0 and F[2.0] == 0.02 and F[6.0] == 0


def _fed(mu_set: float) -> tuple[float, float]:
    """Glucose-limited fed-batch from t = 0 designed for mu_set; returns (max acetate g/L,
    max glucose uptake g/g/h)."""
    # Ample oxygen and a tiny K_DO: the respiratory capacity is qS_crit itself.
    m = EColiFedBatch(kLa=2000.0, K_DO=1e-3)
    x0 = {**X0, "S": 0.0, "X": 2.0}
    feed = Exponential.for_growth(mu_set, X0=2.0, V0=1.0, S_feed=500.0, Yxs=0.5, ms=0.04)
    tr = simulate(m, x0, 4.0, events=[FeedStart(0.0, feed)], t_eval=np.linspace(0, 4, 81))
    rates = m.rates(
        0,
        [tr[s].to_numpy() for s in m.states],
        [tr[i].to_numpy() for i in m.inputs],
        m.param_vector(),
    )
    return float(tr["A"].max()), float(np.max(rates["qS"]))


def test_input_schedule_is_what_simulate_applies() -> None:
    # one set of recipe rules: the schedule equals the inputs the simulator logged
    m = EColiFedBatch()
    events = [
        FeedStart(2.0, Exponential(F0=0.004, mu_set=0.2, F_max=0.02)),
        Induction(3.0, 0.5),
        Bolus(3.5, volume=0.05, concentrations={"S": 100.0}),
        SetInput(4.0, "T", Piecewise([0.0, 1.0], [34.0, 30.0])),
        FeedStop(7.0),
    ]
    times = np.array([0.0, 1.5, 2.0, 2.5, 3.0, 4.0, 4.5, 5.5, 6.99, 7.0, 8.0])
    tr = simulate(m, X0, 8.0, inputs={"T": 36.0}, events=events, t_eval=times)
    u = input_schedule(m, {"T": 36.0}, events, times)
    logged = tr.frame[list(m.inputs)].to_numpy()
    np.testing.assert_allclose(u, logged, rtol=1e-12)
    assert u[0].tolist() == [0.0, 36.0, 0.0] and u[-1, 0] == 0.0
    with pytest.raises(InputError, match="unknown input"):
        input_schedule(m, {"pH": 7.0}, [], times)
    with pytest.raises(InputError, match="does not have"):
        input_schedule(m, None, [SetInput(1.0, "pH", 7.0)], times)


def test_overflow_only_above_critical_uptake() -> None:
    crit = EColiFedBatch().params["qS_crit"]
    a_low, qs_low = _fed(0.25)
    a_high, qs_high = _fed(0.7)
    assert qs_low < crit and a_low < 1e-3
    assert qs_high > crit and a_high > 0.1


def test_do_drops_with_growth_and_recovers_after_feed_stop() -> None:
    m = EColiFedBatch()
    feed = Exponential.for_growth(0.3, X0=4.5, V0=1.0, S_feed=500.0, Yxs=0.5)
    tr = simulate(
        m, X0, 14.0, events=[FeedStart(7.5, feed), FeedStop(12.0)], t_eval=np.arange(0, 14.01, 0.25)
    )
    DO = dict(zip(tr["time_h"], tr["DO"], strict=True))
    assert DO[0.0] == 100.0 and DO[7.0] < 75.0  # growth in batch pulls DO down
    assert DO[12.0] < DO[7.75]  # and the fed phase keeps pulling it
    assert DO[13.0] > DO[12.0] + 30  # no feed: no glucose uptake, DO recovers
    # OUR tracks growth: more respiration at 12 h than at 1 h.
    our = dict(zip(tr["time_h"], tr["OUR"], strict=True))
    assert our[11.75] > 5 * our[1.0]
    assert 1.0 < tr["RQ"].iloc[5] < 1.15  # respiratory quotient on glucose


def test_induction_switches_on_product_and_burden() -> None:
    m = EColiFedBatch()
    tr = simulate(m, X0, 6.0, events=[Induction(4.0)], t_eval=[3.99, 4.0, 5.0])
    assert tr["P"].iloc[0] == 0 and tr["P"].iloc[1] < 1e-12 and tr["P"].iloc[2] > 0
    assert list(tr["ind"]) == [0.0, 1.0, 1.0]
    ref = simulate(m, X0, 6.0, t_eval=[5.0])
    assert tr["X"].iloc[2] < ref["X"].iloc[0]  # growth burden


def test_piecewise_feed_breakpoints() -> None:
    prof = Piecewise([0, 3, 5], [0.0, 0.01, 0.0])
    tr = simulate(EColiFedBatch(), X0, 6.0, inputs={"F": prof}, t_eval=[2.9, 3.0, 5.0, 6.0])
    assert list(tr["F"]) == [0.0, 0.01, 0.0, 0.0]
    assert tr["V"].iloc[-1] == pytest.approx(1.02, rel=1e-7)


def test_cho_glutamine_depletion_and_lactate_shift() -> None:
    m = ChoFedBatch()
    tr = simulate(m, CHO0, 10 * 24, t_eval=np.arange(0, 241, 12))
    gln = tr["Gln"].to_numpy()
    assert gln[-1] < 0.05 * gln[0]  # glutamine runs out in batch
    xv = tr["Xv"].to_numpy()
    assert xv.max() > 5 * xv[0]
    # Growth stops once glutamine is gone: the last days add < 5 % of cells.
    assert xv[-1] < 1.05 * xv[-5]
    # Lactate shift: with glucose exhausted, lactate is consumed again.
    lean = simulate(m, {**CHO0, "Glc": 8.0}, 10 * 24, t_eval=np.arange(0, 241, 12))
    lac = lean["Lac"].to_numpy()
    assert lean["Glc"].iloc[-1] < 0.1 and lac[-1] < 0.9 * lac.max()
    # Boluses of feed medium raise glucose by the mixed amount.
    fed = simulate(
        m,
        CHO0,
        80,
        events=[Bolus(72, volume=0.05, concentrations={"Glc": 500.0})],
        t_eval=[71.999, 72.0],
    )
    g0, g1 = fed["Glc"]
    assert g1 == pytest.approx((g0 * 1.0 + 25.0) / 1.05, rel=1e-4)


@pytest.mark.parametrize("model", [EColiFedBatch(), ChoFedBatch()])
def test_numpy_and_casadi_rhs_agree(model) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    f = model.casadi_rhs()
    h = model.casadi_measure()
    p = model.param_vector()
    for _ in range(20):
        x = rng.uniform(0.01, 5, len(model.states))
        x[model.states.index("V")] = rng.uniform(0.5, 2)
        if "DO" in model.states:
            x[model.states.index("DO")] = rng.uniform(0, 100)
        u = model.input_vector({"F": rng.uniform(0, 0.05)})
        if "ind" in model.inputs:
            u[model.inputs.index("ind")] = rng.integers(0, 2)
            u[model.inputs.index("T")] = rng.uniform(25, 42)
        ref = np.array(model.rhs(0.0, x, u, p), dtype=float)
        fast = np.array(model.rhs(0.0, x.tolist(), u.tolist(), p.tolist(), xp=scalar_backend))
        sym = np.asarray(f(x, u, p)).ravel()
        np.testing.assert_allclose(sym, ref, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-12)
        ys = np.asarray(h(x, u, p)).ravel()
        np.testing.assert_allclose(ys, np.array(model.measure(x, u, p), float), rtol=1e-10)


def test_blowup_gives_a_clear_message() -> None:
    runaway = Exponential(F0=0.01, mu_set=5.0)
    with pytest.raises(SimulationError, match=r"state 'V' blew up .* at t = |'V' blew up") as e:
        simulate(EColiFedBatch(), X0, 10.0, events=[FeedStart(1.0, runaway)])
    assert e.value.state == "V" and 1.0 < e.value.time_h <= 10.0
    assert isinstance(e.value, BiofabError)


def test_negative_state_is_reported() -> None:
    # A bolus that removes more glucose than is there.
    with pytest.raises(SimulationError, match="'S' became negative"):
        simulate(EColiFedBatch(), X0, 2.0, events=[Bolus(1.0, amounts={"S": -50.0})])


def test_bad_inputs() -> None:
    m = EColiFedBatch()
    with pytest.raises(InputError, match="unknown parameter"):
        EColiFedBatch(mu=1.0)
    with pytest.raises(InputError, match="every state"):
        simulate(m, {"X": 1.0}, 1.0)
    with pytest.raises(InputError, match="'S'"):
        simulate(m, {**X0, "S": -1.0}, 1.0)
    with pytest.raises(InputError, match="unknown input"):
        simulate(m, X0, 1.0, inputs={"G": 1.0})
    with pytest.raises(InputError, match="does not have"):
        simulate(ChoFedBatch(), CHO0, 1.0, events=[Induction(0.5)])
    with pytest.raises(InputError, match="strictly increasing"):
        Piecewise([0, 2, 1], [0, 1, 2])
    with pytest.raises(InputError, match="F0"):
        Exponential(F0=-1.0, mu_set=0.1)
    with pytest.raises(SimulationError, match="input 'F'"):
        simulate(m, X0, 2.0, inputs={"F": lambda t: -0.01 if t > 1 else 0.0})
    with pytest.raises(InputError, match="t_end"):
        simulate(m, X0, math.nan)
