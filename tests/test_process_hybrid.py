"""Hybrid (mechanistic + neural) fermentation models: training through the ODE, baselines,
extrapolation, ensemble spread, the physics-informed term and bad input."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from biofab.core.errors import InputError
from biofab.process.fit import Experiment
from biofab.process.hybrid import HybridModel
from biofab.process.models import ChoFedBatch, EColiFedBatch, ecoli_respiration
from biofab.process.neural import NeuralODE
from biofab.process.simulate import Bolus, FeedStart, input_schedule, simulate

X0 = {"X": 0.2, "S": 8.0, "A": 0.0, "P": 0.0, "DO": 100.0, "V": 1.0}
TIMES = np.arange(0.0, 16.01, 1.0)
TRAIN_F = (0.004, 0.008, 0.012)
SMALL = dict(hidden=(16, 16), ensemble=2, dt=0.25, seed=0, device="cpu", n_jobs=1)
WRONG = EColiFedBatch(qS_crit=1e4, Kis=1e6, Kia=1e6)  # Monod, no overflow


def _plant(F: float) -> pd.DataFrame:
    return simulate(EColiFedBatch(), X0, 16.0, events=[FeedStart(5.0, F)], t_eval=TIMES).frame


def _exp(F: float, rng: np.random.Generator | None = None) -> Experiment:
    f = _plant(F)
    d = pd.DataFrame({"time_h": f["time_h"]})
    for s in ("X", "S", "A"):
        y = f[s].to_numpy()
        if rng is not None:
            y = y * (1 + 0.03 * rng.standard_normal(y.size))
        d[s] = np.clip(y, 0, None)
    return Experiment(d, X0, events=[FeedStart(5.0, F)], name=f"F{F}")


@pytest.fixture(scope="module")
def train() -> list[Experiment]:
    rng = np.random.default_rng(0)
    return [_exp(F, rng) for F in TRAIN_F]


@pytest.fixture(scope="module")
def hybrid(train: list[Experiment]) -> HybridModel:
    # Residual structure around the wrong-kinetics model: it starts as that model.
    return HybridModel(
        EColiFedBatch(),
        learned=("qS", "qS_of", "qA_cons"),
        structure="residual",
        base=WRONG,
        features=("S", "A", "X"),
        physics_weight=0.0,
        warmup=0,
        epochs=15,
        **SMALL,
    ).fit(train)


def _rmse(pred: pd.DataFrame, truth: pd.DataFrame, s: str) -> float:
    return float(np.sqrt(np.mean((pred[s].to_numpy() - truth[s].to_numpy()) ** 2)))


def test_hybrid_beats_wrong_kinetics_and_neural_ode(hybrid: HybridModel, train: list) -> None:
    F = 0.010  # held out, inside the training range
    truth = _plant(F)
    ev = [FeedStart(5.0, F)]
    mean, _ = hybrid.predict(X0, t=TIMES, events=ev)
    w = simulate(WRONG, X0, 16.0, events=ev, t_eval=TIMES).frame
    neural = NeuralODE(EColiFedBatch(), epochs=15, **SMALL).fit(train)
    n, _ = neural.predict(X0, t=TIMES, events=ev)
    scale = {s: float(truth[s].std()) for s in ("X", "S", "A")}

    def score(pred: pd.DataFrame) -> float:  # mean RMSE per state scale
        return float(np.mean([_rmse(pred, truth, s) / scale[s] for s in scale]))

    assert score(mean) < score(w)
    assert score(mean) < score(n)
    assert _rmse(mean, truth, "X") < 0.1 * truth["X"].max()


def test_extrapolated_feed_is_finite_nonnegative_and_sane(hybrid: HybridModel) -> None:
    F = 1.3 * max(TRAIN_F)
    truth = _plant(F)
    mean, std = hybrid.predict(X0, t=TIMES, events=[FeedStart(5.0, F)])
    vals = mean[["X", "S", "A", "P", "V"]].to_numpy()
    assert np.all(np.isfinite(vals)) and vals.min() >= 0
    ratio = mean["X"].iloc[-1] / truth["X"].iloc[-1]
    assert 0.5 < ratio < 2.0
    assert np.isclose(mean["V"].iloc[-1], truth["V"].iloc[-1], rtol=1e-6)  # volume balance
    assert float(std["X"].max()) > 0  # members differ


def test_residual_starts_as_its_base_and_corrects_by_factor_or_addition(
    train: list[Experiment],
) -> None:
    h = HybridModel(base=WRONG, epochs=0, physics_weight=0.0, features=("S", "A", "X"), **SMALL)
    h.fit(train)
    assert h.correction_ == {"qS": "mul", "qS_of": "add", "qA_cons": "mul"}  # no overflow
    ev = [FeedStart(5.0, 0.01)]
    mean, std = h.predict(X0, t=TIMES, events=ev)
    w = simulate(WRONG, X0, 16.0, events=ev, t_eval=TIMES).frame
    for s in ("X", "S", "V"):  # same model up to the fixed-step solver (and the 0-floor)
        assert np.allclose(mean[s], w[s], rtol=0.05, atol=0.1), s
    assert float(std["X"].max()) == 0.0  # zero last layer: all members are the base
    # Joint refit of base parameters, early stopping on a validation batch.
    r = HybridModel(
        base=WRONG,
        learned=("qS_of",),
        refit=("qS_max", "Yxs"),
        rate_features=("qS",),
        epochs=2,
        warmup=0,
        physics_weight=0.0,
        check_every=1,
        **SMALL,
    ).fit(train[:1], validation=train[2])
    assert set(r.refit_params_) == {"qS_max", "Yxs"}
    assert r.refit_params_["Yxs"].shape == (2,) and len(r.val_history_) == 3
    rates = r.learned_rates({"X": [5.0], "S": [4.0], "A": [0.5]})
    assert list(rates.columns) == ["qS_of"] and float(rates["qS_of"].iloc[0]) >= 0


def test_quasi_steady_do_gives_the_oxygen_limited_overflow(train: list[Experiment]) -> None:
    # Untrained residual hybrids around the wrong model at a feed that runs out of oxygen:
    # with DO at its quasi-steady balance the hybrid is that model (its DO balance caps
    # respiration, the rest overflows to acetate); with DO frozen at 100 % it never can.
    kw = dict(base=WRONG, epochs=0, physics_weight=0.0, features=("S", "A", "X"), **SMALL)
    qss = HybridModel(quasi_steady=("DO",), jacobian="full", **kw).fit(train)
    frozen = HybridModel(**kw).fit(train)
    assert qss.frozen_ == ["DO"] and qss.quasi_steady_upper_ == {"DO": 100.0}
    ev = [FeedStart(5.0, 0.025)]
    w = simulate(WRONG, X0, 16.0, events=ev, t_eval=TIMES).frame
    assert w["A"].max() > 1.0 and w["DO"].min() < 1.0  # the wrong model does overflow
    m_q, _ = qss.predict(X0, t=TIMES, events=ev)
    m_f, _ = frozen.predict(X0, t=TIMES, events=ev)
    assert m_f["A"].max() < 0.05
    assert abs(m_q["A"].max() - w["A"].max()) < 0.2 * w["A"].max()
    assert _rmse(m_q, w, "A") < 0.3 * _rmse(m_f, w, "A")
    # The reported DO is the balance point, not the frozen initial value.
    late = TIMES >= 10
    assert np.all(m_q["DO"].to_numpy()[late] < 5.0)
    assert np.allclose(m_q["DO"].to_numpy()[late], w["DO"].to_numpy()[late], atol=2.0)


def test_finer_prediction_step_follows_the_base_model_under_oxygen_limitation(
    train: list[Experiment],
) -> None:
    # Untrained, the settled-DO hybrid is the wrong model; at a feed 30 % beyond training,
    # where the oxygen limitation switches on, a coarse fixed step misses that model and a
    # finer prediction step (training step unchanged) follows it.
    kw = dict(base=WRONG, epochs=0, physics_weight=0.0, features=("S", "A", "X"), **SMALL)
    coarse = HybridModel(quasi_steady=("DO",), quasi_steady_fit=False, **kw).fit(train)
    fine = HybridModel(quasi_steady=("DO",), quasi_steady_fit=False, predict_dt=0.0625, **kw).fit(
        train
    )
    assert fine.dt == coarse.dt == 0.25
    ev = [FeedStart(5.0, 1.3 * 0.013)]
    w = simulate(WRONG, X0, 16.0, events=ev, t_eval=TIMES).frame
    m_c, _ = coarse.predict(X0, t=TIMES, events=ev)
    m_f, _ = fine.predict(X0, t=TIMES, events=ev)
    assert fine.dt == 0.25  # prediction leaves the training step as it was
    for s in ("X", "A"):
        assert _rmse(m_f, w, s) < 0.5 * _rmse(m_c, w, s), s
    assert _rmse(m_f, w, "X") < 0.05 * w["X"].max()


def test_correction_penalty_shrinks_the_corrections(train: list[Experiment]) -> None:
    # The same short training with and without the penalty on the network's outputs at the
    # samples: the penalised corrections stay closer to the base model (zero output).
    kw = dict(base=WRONG, learned=("qS", "qS_of"), epochs=8, features=("S", "A"), **SMALL)
    free = HybridModel(**kw).fit(train)
    shrunk = HybridModel(correction_penalty=100.0, **kw).fit(train)

    d = pd.concat([e.data for e in train])
    states = {s: d[s].to_numpy(float) for s in ("X", "S", "A")}
    x = [states["X"], states["S"], states["A"], 0.0, 100.0, 1.0]
    base_qs = WRONG.rates(0.0, x, [0.0, 37.0, 0.0], WRONG.param_vector())["qS"]

    def size(h: HybridModel) -> float:  # overflow (the base has none) and log-factor on qS
        r = h.learned_rates({**states, "DO": np.full(len(d), 100.0)})
        qs = r["qS"].to_numpy()
        ok = base_qs > 1e-6
        return float(r["qS_of"].abs().mean() + np.abs(np.log(qs[ok] / base_qs[ok])).mean())

    assert size(shrunk) < 0.5 * size(free)


def test_additive_gate_keeps_overflow_out_of_the_fed_phase(train: list[Experiment]) -> None:
    # Gated by the base's glucose uptake (open above 60 % of its peak), the learned overflow
    # is exactly the base's (none) where glucose is limiting, and learned where it is not.
    h = HybridModel(
        base=WRONG,
        learned=("qS_of",),
        additive_gate=("qS", 0.6),
        epochs=5,
        features=("S", "A"),
        **SMALL,
    ).fit(train)
    r = h.learned_rates({"X": [5.0, 1.0], "S": [0.02, 8.0], "A": [0.0, 0.0], "DO": [100.0] * 2})
    assert float(r["qS_of"].iloc[0]) == 0.0
    assert float(r["qS_of"].iloc[1]) > 0.0


def test_additive_correction_leaves_zero(train: list[Experiment]) -> None:
    # The base has no overflow (qS_of = 0, additive correction starting at exactly 0): a
    # few steps must move it, or acetate could never be learned.
    h = HybridModel(
        base=WRONG,
        learned=("qS_of",),
        epochs=5,
        physics_weight=0.0,
        features=("S", "A", "X"),
        **SMALL,
    ).fit(train)
    assert float(h.params_[-2].detach().abs().max()) > 0  # last layer off zero
    assert float(h.learned_rates({"X": [1.0], "S": [8.0], "A": [0.0]})["qS_of"].iloc[0]) > 0


def test_physics_term_lowers_balance_residual(train: list[Experiment]) -> None:
    kw = dict(
        learned=("qS", "qS_of", "qA_cons"),
        structure="replace",
        features=("S", "A", "X"),
        warmup=60,
    )
    with_pi = HybridModel(physics_weight=1.0, epochs=3, **kw, **SMALL).fit(train)
    without = HybridModel(physics_weight=0.0, epochs=3, **kw, **SMALL).fit(train)
    assert with_pi.balance_residual(train) < 0.5 * without.balance_residual(train)


def test_input_schedule_matches_events() -> None:
    u = input_schedule(EColiFedBatch(), None, [FeedStart(5.0, 0.01)], np.array([0.0, 4.9, 5.0]))
    assert u[:, 0].tolist() == [0.0, 0.0, 0.01]
    assert u[0, 1] == 37.0


def test_cuda_flag_errors_cleanly_without_gpu(train: list[Experiment]) -> None:
    if torch.cuda.is_available():  # on a GPU machine: a short training must run there
        h = HybridModel(
            learned=("qS", "qS_of", "qA_cons"),
            features=("S", "A", "X"),
            warmup=10,
            epochs=2,
            **{**SMALL, "device": "cuda"},
        ).fit(train)
        assert h.device_.type == "cuda"
        mean, _ = h.predict(X0, t=TIMES, events=[FeedStart(5.0, 0.01)])
        assert np.all(np.isfinite(mean["X"]))
    else:
        with pytest.raises(InputError, match="CUDA"):
            HybridModel(epochs=1, **{**SMALL, "device": "cuda"}).fit(train)


def test_bad_input(train: list[Experiment]) -> None:
    # No offline samples of acetate: nothing can teach the acetate rates.
    no_a = [Experiment(e.data.drop(columns="A"), e.x0, e.inputs, e.events) for e in train]
    with pytest.raises(InputError, match="qA_cons"):
        HybridModel(learned=("qS", "qA_cons"), yields=False, epochs=1, **SMALL).fit(no_a)
    # Samples of no model state (mismatched names).
    odd = [Experiment(pd.DataFrame({"time_h": [0.0, 1.0], "glc": [8.0, 7.0]}), X0)]
    with pytest.raises(InputError, match="no offline samples"):
        HybridModel(epochs=1, **SMALL).fit(odd)
    # Initial state naming states the model does not have.
    bad_x0 = [Experiment(train[0].data, {"X": 0.2, "glucose": 8.0}, None, train[0].events)]
    with pytest.raises(InputError, match="initial state"):
        HybridModel(epochs=1, **SMALL).fit(bad_x0)
    with pytest.raises(InputError, match="not rates"):
        HybridModel(learned=("qZ",), epochs=1, **SMALL).fit(train)
    with pytest.raises(InputError, match="bolus"):
        HybridModel(epochs=1, **SMALL).fit([Experiment(train[0].data, X0, None, [Bolus(3.0)])])
    with pytest.raises(InputError, match="not fitted"):
        HybridModel().predict(X0, t=TIMES)
    with pytest.raises(InputError):
        HybridModel(epochs=1, **SMALL).fit([])
    with pytest.raises(InputError, match="structure"):
        HybridModel(structure="serial", epochs=1, **SMALL).fit(train)
    with pytest.raises(InputError, match="same class"):
        HybridModel(base=ChoFedBatch(), epochs=1, **SMALL).fit(train)
    with pytest.raises(InputError, match="unknown parameters"):
        HybridModel(base={"qZ": 1.0}, epochs=1, **SMALL).fit(train)
    with pytest.raises(InputError, match="predict_dt"):
        HybridModel(predict_dt=0.0, epochs=1, **SMALL).fit(train)
    with pytest.raises(InputError, match="additive_gate"):
        HybridModel(additive_gate=("qZ", 0.5), epochs=1, **SMALL).fit(train)
    with pytest.raises(InputError, match="additive_gate"):
        HybridModel(additive_gate=("qS", 1.5), epochs=1, **SMALL).fit(train)
    with pytest.raises(InputError, match="correction_penalty"):
        HybridModel(correction_penalty=-1.0, epochs=1, **SMALL).fit(train)
    with pytest.raises(InputError, match="max_factor"):
        HybridModel(max_factor=0.5, epochs=1, **SMALL).fit(train)
    with pytest.raises(InputError, match="refit"):
        HybridModel(refit=("qZ",), epochs=1, **SMALL).fit(train)
    with pytest.raises(InputError, match="quasi_steady"):
        HybridModel(quasi_steady=("V",), epochs=1, **SMALL).fit(train)
    with pytest.raises(InputError, match="quasi-steady state 'DO' cannot be a network feature"):
        HybridModel(quasi_steady=("DO",), features=("S", "DO"), epochs=1, **SMALL).fit(train)
    no_o2 = {**X0, "DO": 0.0}
    with pytest.raises(InputError, match="positive initial value"):
        HybridModel(quasi_steady=("DO",), epochs=1, **SMALL).fit(
            [Experiment(e.data, no_o2, e.inputs, e.events) for e in train]
        )


def test_learned_capacity_is_the_capacity_inside_the_base_min(train: list[Experiment]) -> None:
    # Untrained, a learned respiratory capacity c0 around the Monod base is the twin whose
    # qS_crit is c0: overflow above it and acetate uptake with spare capacity only, both
    # from the same min() (no futile cycle), under the settled DO balance.
    h = HybridModel(
        base=WRONG,
        learned=("capacity",),
        features=("S",),
        epochs=0,
        physics_weight=0.0,
        quasi_steady=("DO",),
        quasi_steady_fit=False,
        predict_dt=0.0625,
        capacity_start=0.97,
        **SMALL,
    ).fit(train)
    c0 = h.rate_scale_["capacity"]
    qs = WRONG.params["qS_max"] * 8.0 / (WRONG.params["Ks"] + 8.0)  # peak: S = 8 g/L at t = 0
    assert h.correction_ == {"capacity": "mul"} and np.isclose(c0, 0.97 * qs, rtol=1e-3)
    twin = EColiFedBatch(qS_crit=c0, Kis=1e6, Kia=1e6)
    ev = [FeedStart(5.0, 0.012)]
    w = simulate(twin, X0, 16.0, events=ev, t_eval=TIMES).frame
    assert w["A"].max() > 0.15  # the twin does overflow in the batch phase
    m, _ = h.predict(X0, t=TIMES, events=ev)
    for s in ("X", "S", "A"):
        assert _rmse(m, w, s) < 0.03 * float(w[s].max()) + 0.02, s
    # c0 fO, DO settled at the given state (below saturation: fO < 100/101)
    cap = h.learned_rates({"S": [0.02, 8.0], "X": [5.0, 5.0]})["capacity"].to_numpy()
    assert np.all((cap > 0.9 * c0) & (cap <= c0 * 100.0 / 101.0 + 1e-9))


def test_saved_capacity_hybrid_predicts_the_same(train: list[Experiment], tmp_path) -> None:
    import json

    from biofab.process.saved_hybrid import hybrid_to_files, load_hybrid

    h = HybridModel(
        base=WRONG,
        learned=("capacity",),
        features=("S",),
        clip_features=True,
        refit=("qS_max", "Yxs"),
        epochs=2,
        physics_weight=0.0,
        **SMALL,
    ).fit(train[:2])
    text, state = hybrid_to_files(h, "ecoli", None, train[:2], {}, "h.pt")
    (tmp_path / "h.json").write_text(text)
    torch.save(state, tmp_path / "h.pt")
    loaded = load_hybrid(json.loads(text), tmp_path / "h.json", EColiFedBatch())
    assert loaded.capacity_start == 1.0 and loaded.clip_features
    ev = [FeedStart(5.0, 0.015)]
    m0, _ = h.predict(X0, t=TIMES, events=ev)
    m1, _ = loaded.predict(X0, t=TIMES, events=ev)
    np.testing.assert_allclose(m1.to_numpy(), m0.to_numpy(), rtol=1e-6, atol=1e-9)


def test_saved_hybrid_with_refitted_inhibition_constants_predicts_the_same(
    train: list[Experiment], tmp_path
) -> None:
    # Round 7's base: acetate (Kia) and glucose (Kis, Haldane) inhibition of uptake added to
    # the Monod base and refitted per member with qS_max and Yxs; the save keeps each member's.
    import json

    from biofab.process.saved_hybrid import hybrid_to_files, load_hybrid

    base = EColiFedBatch({**WRONG.params, "Kia": 20.0, "Kis": 100.0})
    refit = ("qS_max", "Yxs", "Kia", "Kis")
    h = HybridModel(
        base=base,
        learned=("capacity",),
        features=("S",),
        refit=refit,
        refit_lr=2e-2,
        epochs=3,
        physics_weight=0.0,
        **SMALL,
    ).fit(train[:2])
    p = h.refit_params_
    assert set(p) == set(refit) and all(v.shape == (2,) and np.all(v > 0) for v in p.values())
    assert not np.allclose(p["Kis"], 100.0)  # it trains (log scale, own pace)
    text, state = hybrid_to_files(h, "ecoli", None, train[:2], {}, "h.pt")
    (tmp_path / "h.json").write_text(text)
    torch.save(state, tmp_path / "h.pt")
    loaded = load_hybrid(json.loads(text), tmp_path / "h.json", EColiFedBatch())
    np.testing.assert_allclose(loaded.refit_params_["Kia"], p["Kia"], rtol=1e-12)
    ev = [FeedStart(5.0, 0.015)]
    m0, _ = h.predict(X0, t=TIMES, events=ev)
    m1, _ = loaded.predict(X0, t=TIMES, events=ev)
    np.testing.assert_allclose(m1.to_numpy(), m0.to_numpy(), rtol=1e-6, atol=1e-9)


def test_clipped_features_do_not_extrapolate(train: list[Experiment]) -> None:
    h = HybridModel(
        base=WRONG, learned=("qS",), features=("S", "A"), epochs=0, clip_features=True, **SMALL
    ).fit(train)
    with torch.no_grad():  # some correction that depends on the features
        for p in h.params_:
            p.add_(0.3 * torch.randn(p.shape, dtype=p.dtype, generator=torch.Generator()))
    a_max = max(float(e.data["A"].max()) for e in train)
    r = h.learned_rates(
        {"S": [2.0, 2.0, 2.0], "A": [a_max, 3 * a_max, 0.5 * a_max], "X": [5.0] * 3}
    )
    q = r["qS"].to_numpy()
    assert np.isclose(q[0], q[1]) and not np.isclose(q[0], q[2])


def test_learned_capacity_bad_input(train: list[Experiment]) -> None:
    with pytest.raises(InputError, match="either 'capacity' or 'qS_of'"):
        HybridModel(base=WRONG, learned=("capacity", "qS_of"), epochs=1, **SMALL).fit(train)
    with pytest.raises(InputError, match="residual structure"):
        HybridModel(learned=("capacity",), structure="replace", epochs=1, **SMALL).fit(train)
    with pytest.raises(InputError, match="residual structure"):
        HybridModel(ChoFedBatch(), learned=("capacity",))._check_structure()  # no capacity
    with pytest.raises(InputError, match="capacity_start"):
        HybridModel(base=WRONG, learned=("capacity",), capacity_start=0.0, epochs=1, **SMALL).fit(
            train
        )
    with pytest.raises(InputError, match="yields=True"):
        HybridModel(base=WRONG, learned=("capacity",), yields=False, epochs=1, **SMALL).fit(train)


def test_respiration_of_changed_fluxes_matches_the_twin() -> None:
    # The hybrid recomputes OUR/CER from its own fluxes with ecoli_respiration: on the
    # twin's fluxes it must give the twin's OUR and CER (the DO balance depends on it).
    m = EColiFedBatch()
    rng = np.random.default_rng(1)
    for _ in range(5):
        x = [rng.uniform(0.5, 30), rng.uniform(0, 5), rng.uniform(0, 3), 0.0, 30.0, 1.0]
        r = m.rates(0.0, x, [0.01, 37.0, 0.0], m.param_vector())
        k = SimpleNamespace(**m.params)
        qo2, our, cer = ecoli_respiration(k, r["qS_ox"], r["qS_of"], r["qA_cons"], x[0])
        assert np.isclose(qo2, r["qO2"]) and np.isclose(our, r["OUR"])
        assert np.isclose(cer, r["CER"])


def _with_do_log(e: Experiment, F: float, do: float | None = None) -> Experiment:
    """``e`` plus an online DO log every 0.1 h (the plant's, or a constant ``do`` %)."""
    t = np.arange(0.0, 16.01, 0.1)
    y = (
        simulate(EColiFedBatch(), X0, 16.0, events=[FeedStart(5.0, F)], t_eval=t).frame["DO"]
        if do is None
        else np.full(t.size, do)
    )
    log = pd.DataFrame({"time_h": t, "DO": np.asarray(y, dtype=float)})
    d = pd.concat([e.data, log], ignore_index=True).sort_values("time_h", kind="stable")
    return Experiment(d.reset_index(drop=True), e.x0, e.inputs, e.events, e.name, e.t_end)


_CAP = dict(
    base=WRONG,
    learned=("capacity",),
    features=("S",),
    physics_weight=0.0,
    quasi_steady=("DO",),
    quasi_steady_fit=False,
    **SMALL,
)


def test_measured_do_log_is_the_oxygen_seen_in_training(train: list[Experiment]) -> None:
    # A log at a constant 100 % trains exactly as DO frozen at its initial 100 %; the plant's
    # log (down to a few % at the end of the batch phase) changes what the rates see.
    frozen = HybridModel(epochs=1, lr=1e-9, **_CAP).fit(train)
    flat = [_with_do_log(e, F, 100.0) for e, F in zip(train, TRAIN_F, strict=True)]
    logged = [_with_do_log(e, F) for e, F in zip(train, TRAIN_F, strict=True)]
    h100 = HybridModel(epochs=1, lr=1e-9, measured=("DO",), **_CAP).fit(flat)
    hlog = HybridModel(epochs=1, lr=1e-9, measured=("DO",), **_CAP).fit(logged)
    assert np.isclose(h100.loss_history_[0], frozen.loss_history_[0], rtol=1e-9)
    assert abs(hlog.loss_history_[0] - frozen.loss_history_[0]) > 1e-3
    # (equal losses: the log is an input, not fitted observations, which would add zero
    # residuals to the mean). Prediction settles DO, no log needed.
    m, _ = hlog.predict(X0, t=TIMES, events=[FeedStart(5.0, 0.012)])
    assert m["DO"].iloc[8] < 99.0


def test_measured_do_trains_the_capacity(train: list[Experiment]) -> None:
    logged = [_with_do_log(e, F) for e, F in zip(train, TRAIN_F, strict=True)]
    h = HybridModel(epochs=15, lr=2e-3, measured=("DO",), refit=("qS_max", "Yxs"), **_CAP)
    h.fit(logged)
    assert min(h.loss_history_) < 0.8 * h.loss_history_[0]


def test_measured_bad_input(train: list[Experiment]) -> None:
    with pytest.raises(InputError, match="no online log of the measured state 'DO'"):
        HybridModel(epochs=1, measured=("DO",), **_CAP).fit(train)
    with pytest.raises(InputError, match="measured states need quasi_steady_fit=False"):
        HybridModel(epochs=1, measured=("DO",), **{**_CAP, "quasi_steady_fit": True}).fit(train)
    with pytest.raises(InputError, match="must be frozen or quasi-steady"):
        HybridModel(epochs=1, measured=("S",), **_CAP).fit(train)
    bad = [_with_do_log(e, F, -5.0) for e, F in zip(train, TRAIN_F, strict=True)]
    with pytest.raises(InputError, match="online log of 'DO'"):
        HybridModel(epochs=1, measured=("DO",), **_CAP).fit(bad)


def test_do_log_as_observation_measures_the_oxygen_balance(train: list[Experiment]) -> None:
    # log_weight adds the O2 balance at the logged DO: around the plant's own kinetics (the
    # untrained hybrid with a multiplicative qS correction IS its base) the plant's log
    # nearly closes it; around the wrong kinetics (no overflow: it oxidises everything, so
    # it needs more O2 than the plant took up) it does not.
    logged = [_with_do_log(e, F) for e, F in zip(train, TRAIN_F, strict=True)]

    def log_term(base: EColiFedBatch) -> float:
        kw = {**_CAP, "learned": ("qS",), "dt": 0.125, "base": base, "epochs": 1, "lr": 1e-9}
        kw["measured"] = ("DO",)
        off = HybridModel(**kw).fit(logged).loss_history_[0]
        on = HybridModel(log_weight=1.0, **kw).fit(logged).loss_history_[0]
        return on - off

    plant, wrong = log_term(EColiFedBatch()), log_term(WRONG)
    assert 0.0 <= plant < 0.1 * wrong
    # ... and training with it lowers the summed loss.
    h = HybridModel(epochs=15, lr=2e-3, measured=("DO",), log_weight=1.0, **_CAP).fit(logged)
    assert min(h.loss_history_) < 0.8 * h.loss_history_[0]


def test_log_weight_bad_input(train: list[Experiment]) -> None:
    logged = [_with_do_log(e, F) for e, F in zip(train, TRAIN_F, strict=True)]
    for bad in (-1.0, float("nan")):
        with pytest.raises(InputError, match="log_weight must be a finite number >= 0"):
            HybridModel(epochs=1, measured=("DO",), log_weight=bad, **_CAP).fit(logged)
    with pytest.raises(InputError, match="log_weight > 0 needs measured states"):
        HybridModel(epochs=1, log_weight=1.0, **_CAP).fit(train)
    frozen_do = {**_CAP, "quasi_steady": (), "frozen": ("DO",)}
    with pytest.raises(InputError, match="log_weight > 0 needs measured states"):
        HybridModel(epochs=1, measured=("DO",), log_weight=1.0, **frozen_do).fit(logged)


def test_implicit_root_gradient_is_exact(train: list[Experiment]) -> None:
    # With quasi_steady_grad the settled DO carries dDO/dθ = -(∂g/∂θ)/(∂g/∂DO): the
    # right-hand side's gradient then matches central differences (without it, it does not:
    # under O2 limitation the root moves to compensate a change of the capacity).
    def rhs_check(grad: bool) -> tuple[float, float]:
        h = HybridModel(epochs=0, quasi_steady_grad=grad, **{**_CAP, "quasi_steady_fit": True}).fit(
            train
        )
        gen = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in h.params_:
                p.add_(0.05 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
        v = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in h.params_]
        x = torch.tensor([[[10.0, 0.5, 0.5, 0.0, 50.0, 1.05]]], dtype=torch.float64)
        x = x.expand(2, 1, 6)  # an O2-limited state: X 10 g/L with glucose at 0.5 g/L
        u = torch.tensor([[[0.012, 37.0, 0.0]]], dtype=torch.float64)
        h._qs_active = True
        f = h._f(x, u)[..., :3].sum()
        f.backward()
        auto = sum(float((p.grad * d).sum()) for p, d in zip(h.params_, v, strict=True))
        eps = 1e-6
        with torch.no_grad():
            for p, d in zip(h.params_, v, strict=True):
                p.add_(eps * d)
            fp = float(h._f(x, u)[..., :3].sum())
            for p, d in zip(h.params_, v, strict=True):
                p.sub_(2 * eps * d)
            fm = float(h._f(x, u)[..., :3].sum())
        return auto, (fp - fm) / (2 * eps)

    auto, fd = rhs_check(True)
    assert np.isclose(auto, fd, rtol=1e-4, atol=1e-6)
    auto0, fd0 = rhs_check(False)
    assert not np.isclose(auto0, fd0, rtol=1e-2)


def test_smooth_min_is_close_to_the_min(train: list[Experiment]) -> None:
    h0 = HybridModel(epochs=0, **_CAP).fit(train)
    h1 = HybridModel(epochs=0, smooth_min=0.01, **_CAP).fit(train)
    states = {"S": [0.02, 0.3, 8.0], "A": [0.5, 0.5, 0.5], "X": [5.0, 5.0, 5.0], "DO": [3.0] * 3}
    r0, r1 = h0.learned_rates(states), h1.learned_rates(states)
    np.testing.assert_allclose(r1.to_numpy(), r0.to_numpy(), atol=0.02)


class _OneMemberBlowsUp(HybridModel):
    """Member 0's training loss jumps after the first step (finite: ``nan=False``, or NaN)
    and stays there, as a member whose refitted yield blew up in its first Adam steps."""

    nan = False

    def _penalty(self, per_member: bool = False) -> torch.Tensor | float:
        calls = getattr(self, "_calls", 0)
        self._calls = calls + 1
        bump = torch.zeros(self.ensemble, dtype=torch.float64)
        if calls > 0:
            bump[0] = float("nan") if self.nan else 1e3
        return bump if per_member else bump.sum()


@pytest.mark.parametrize("nan", [False, True])
def test_one_member_that_blows_up_does_not_stop_the_others(
    train: list[Experiment], nan: bool
) -> None:
    kw = {**SMALL, "ensemble": 3}
    opts = dict(learned=("qS",), base=WRONG, features=("S", "X"), refit=("Yxs",), epochs=8)
    h = _OneMemberBlowsUp(EColiFedBatch(), **opts, refit_lr=2e-2, **kw)
    h.nan = nan
    h.fit(train)
    start = HybridModel(EColiFedBatch(), **{**opts, "epochs": 0}, **kw).fit(train)
    for p in h.params_:
        assert torch.isfinite(p).all()
    moved = [
        float((p - q).detach().abs().max()) for p, q in zip(h.params_, start.params_, strict=True)
    ]
    assert max(moved) > 0
    for p, q in zip(h.params_, start.params_, strict=True):
        assert torch.equal(p[0], q[0])  # the blown-up member kept its best: the start
        assert not torch.equal(p[1:], q[1:]) or p.numel() == 0  # the others trained
    # The others' training loss went down from the start (their own best, not the sum's).
    first = h.loss_history_[0]
    assert np.all(h.train_best_[1:] < first)


def test_refit_warmup_starts_the_refit_parameters_gently(train: list[Experiment]) -> None:
    kw = dict(learned=("qS",), base=WRONG, features=("S", "X"), refit=("Yxs",), epochs=1)
    steps = {}
    for warm in (0, 10):
        h = HybridModel(EColiFedBatch(), refit_lr=2e-2, refit_warmup=warm, **kw, **SMALL)
        h.fit(train)
        start = HybridModel(EColiFedBatch(), **{**kw, "epochs": 0}, **SMALL).fit(train)
        steps[warm] = float((h.params_[-1] - start.params_[-1]).abs().max())
    # Adam's first step moves a log-parameter by about its lr: warmed up, a tenth of it.
    assert steps[0] == pytest.approx(2e-2, rel=0.2)
    assert steps[10] == pytest.approx(2e-3, rel=0.2)
    with pytest.raises(InputError, match="refit_warmup"):
        HybridModel(EColiFedBatch(), refit_warmup=-1, **kw, **SMALL).fit(train)
    with pytest.raises(InputError, match="lr_warmup"):
        HybridModel(EColiFedBatch(), lr_warmup=-1, **kw, **SMALL).fit(train)
    # lr_warmup slows every weight's first step the same way (10 steps: a tenth).
    h = HybridModel(EColiFedBatch(), refit_lr=2e-2, refit_warmup=0, lr_warmup=10, **kw, **SMALL)
    start = HybridModel(EColiFedBatch(), **{**kw, "epochs": 0}, **SMALL).fit(train)
    step = float((h.fit(train).params_[-1] - start.params_[-1]).detach().abs().max())
    assert step == pytest.approx(2e-3, rel=0.2)


class _OneMemberStuck(HybridModel):
    """Member 0's loss is held up (a jump after its first step) during the first training
    pass only, as a member that stopped on a plateau; a restart trains it normally."""

    def _penalty(self, per_member: bool = False) -> torch.Tensor | float:
        calls = getattr(self, "_calls", 0)
        self._calls = calls + 1
        bump = torch.zeros(self.ensemble, dtype=torch.float64)
        if 0 < calls <= self.epochs:  # the first pass: epochs steps and the final check
            bump[0] = 1e3
        return bump if per_member else bump.sum()


def test_a_stuck_member_is_restarted_and_the_others_kept(train: list[Experiment]) -> None:
    kw = {**SMALL, "ensemble": 3}
    opts = dict(learned=("qS",), base=WRONG, features=("S", "X"), refit=("Yxs",), epochs=6)
    # (a few steps of a small net: "stuck" here is "not below 0.99 of the start")
    once = _OneMemberStuck(EColiFedBatch(), **opts, stuck_ratio=0.99, **kw).fit(train)
    assert once.restarted_.tolist() == [0, 0, 0]
    assert once.train_best_[0] >= once.train_start_[0]  # stuck: kept its start
    assert np.all(once.train_best_[1:] < 0.99 * once.train_start_[1:])
    h = _OneMemberStuck(EColiFedBatch(), **opts, restarts=1, stuck_ratio=0.99, **kw).fit(train)
    assert h.restarted_.tolist() == [1, 0, 0]
    # The others are exactly as after the first pass; the stuck one trained from a fresh start.
    for p, q in zip(h.params_, once.params_, strict=True):
        assert torch.equal(p[1:], q[1:])
    assert not torch.equal(h.params_[0][0], once.params_[0][0])  # new hidden weights
    assert h.train_best_[0] < h.train_start_[0]
    np.testing.assert_array_equal(h.train_best_[1:], once.train_best_[1:])
    assert len(h.loss_history_) == 2 * len(once.loss_history_)
    for bad in ({"restarts": -1}, {"stuck_ratio": 0.0}, {"stuck_ratio": 1.5}):
        with pytest.raises(InputError, match=r"restarts|stuck_ratio"):
            HybridModel(EColiFedBatch(), **{**opts, **bad}, **kw).fit(train)
    # early stopping and restarts do not mix: refused, not silently skipped
    with pytest.raises(InputError, match="restarts > 0 does not combine with validation"):
        HybridModel(EColiFedBatch(), **opts, restarts=1, **kw).fit(train, validation=train[:1])
