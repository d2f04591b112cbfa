"""Parameter estimation: recovers known parameters from simulated noisy batches, flags what the
data cannot determine, propagates uncertainty, rejects bad data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biofab.core.errors import InputError, NotEnoughDataError
from biofab.process.fit import Experiment, fit
from biofab.process.models import EColiFedBatch
from biofab.process.simulate import Exponential, FeedStart, simulate

TRUTH = EColiFedBatch()


def _batches(seed: int = 1) -> list[Experiment]:
    """A batch and a fed-batch (exponential feed after a short batch), 5 % noise, seeded."""
    rng = np.random.default_rng(seed)
    out = []
    for S0, events in [
        (10.0, []),
        (4.0, [FeedStart(5.0, Exponential.for_growth(0.2, 2.0, 1.0, 500.0, 0.5))]),
    ]:
        x0 = {"X": 0.1, "S": S0, "A": 0.0, "P": 0.0, "DO": 100.0, "V": 1.0}
        t = np.arange(1.0, 10.01, 1.0)
        tr = simulate(TRUTH, x0, 10.0, events=events, t_eval=t)
        df = pd.DataFrame({"time_h": t})
        for c in ("X", "S"):
            y = tr[c].to_numpy()
            df[c] = y * (1 + 0.05 * rng.standard_normal(t.size))
            df[f"{c}_std"] = 0.05 * np.abs(y) + 0.005
        out.append(Experiment(df, x0, events=events, name=f"S0={S0:g}", t_end=10.0))
    return out


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    start = EColiFedBatch(qS_max=0.9, Yxs=0.4, Ks=0.2)
    return fit(start, _batches(), ["qS_max", "Yxs", "Ks"])


def test_fit_recovers_known_parameters_within_ci(result) -> None:  # type: ignore[no-untyped-def]
    assert result.success_
    table = result.table_.set_index("parameter")
    for name in ("qS_max", "Yxs", "Ks"):
        true = TRUTH.params[name]
        row = table.loc[name]
        assert row.ci_low <= true <= row.ci_high, (name, row.to_dict())
        assert row.estimate == pytest.approx(true, rel=0.3)
    assert table.loc["Ks", "identifiable"]
    # Batch growth mostly informs the product mu ≈ Yxs qS_max: the report must say so when
    # the two correlate beyond 0.95, naming the partner.
    c = result.corr_.loc["qS_max", "Yxs"]
    assert c < 0
    assert (abs(c) > 0.95) == (not table.loc["qS_max", "identifiable"])
    if abs(c) > 0.95:
        assert "Yxs" in table.loc["qS_max", "note"]
    assert result.corr_.shape == (3, 3)
    np.testing.assert_allclose(np.diag(result.corr_.to_numpy()), 1.0)
    assert 0.2 < result.s2_ < 5  # weights match the simulated noise
    assert "qS_max" in result.summary()
    assert set(result.residuals_["variable"]) == {"X", "S"}


def test_prediction_bands_cover_the_estimate(result) -> None:  # type: ignore[no-untyped-def]
    band = result.predict(result.experiments[0], t_eval=np.linspace(0, 10, 11), n_samples=12)
    assert {"X", "X_lo", "X_hi", "OUR_hi"} <= set(band.columns)
    assert np.all(band["X_lo"] <= band["X"] + 1e-9) and np.all(band["X"] <= band["X_hi"] + 1e-9)
    assert (band["X_hi"] - band["X_lo"]).iloc[-1] > 0


def test_unidentifiable_parameter_is_flagged() -> None:
    # Glucose never exceeds 10 g/L, so a Haldane constant of 80 g/L leaves no trace.
    res = fit(TRUTH, _batches()[:1], ["Yxs", "Kis"], max_nfev=5)
    table = res.table_.set_index("parameter")
    assert not table.loc["Kis", "identifiable"]
    assert table.loc["Kis", "note"]


def test_fit_bad_input() -> None:
    exp = _batches()[0]
    with pytest.raises(InputError, match="unknown parameter"):
        fit(TRUTH, exp, ["mu"])
    with pytest.raises(InputError, match="not states or outputs"):
        fit(TRUTH, Experiment(exp.data.assign(biomass=1.0), exp.x0), ["Yxs"])
    with pytest.raises(InputError, match="duplicated sample times"):
        dup = pd.concat([exp.data, exp.data.iloc[:1]])
        fit(TRUTH, Experiment(dup, exp.x0), ["Yxs"])
    with pytest.raises(InputError, match="needs x0"):
        fit(TRUTH, exp.data, ["Yxs"])
    with pytest.raises(InputError, match="0 < lo < hi"):
        fit(TRUTH, exp, ["Yxs"], bounds={"Yxs": (0.0, 1.0)})
    with pytest.raises(NotEnoughDataError):
        fit(TRUTH, Experiment(exp.data.iloc[:1][["time_h", "X"]], exp.x0), ["Yxs", "Ks"])
