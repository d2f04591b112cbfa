"""``process fit --model hybrid --preset capacity``: the variant the hybrid benchmark selected,
reachable from the command line, with the DO log read while training when every batch has
one; the preset's settings kept equal to the benchmark's; bad presets refused in one line.

Real (tiny) hybrids on simulated E. coli fed-batches whose feed and DO are logged.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab.process import workflows as w
from biofab.process.batchdata import BatchData, write_batches
from biofab.process.hybrid import HYBRID_PRESETS
from biofab.process.models import EColiFedBatch
from biofab.process.simulate import FeedStart, simulate
from test_process_cli import refused, run

X0 = {"X": 0.2, "S": 8.0, "A": 0.0, "P": 0.0, "DO": 100.0, "V": 1.0}
X0_TEXT = ",".join(f"{k}={v:g}" for k, v in X0.items())
WRONG = {"qS_crit": 1e4, "Kis": 1e6, "Kia": 20.0}  # Monod uptake, no overflow


def _batch(F: float, seed: int, do_log: bool) -> BatchData:
    """8 h, feed F (L/h) from 3 h; X, S, A hourly; feed (and DO) logged every 0.1 h."""
    t = np.arange(0.0, 8.0 + 1e-9, 1.0)
    tl = np.arange(0.0, 8.0 + 1e-9, 0.1)
    plant = EColiFedBatch()
    f = simulate(plant, X0, 8.0, events=[FeedStart(3.0, F)], t_eval=t).frame
    rng = np.random.default_rng(seed)
    off = pd.DataFrame(
        {
            name: np.clip(f[s].to_numpy() * (1 + 0.03 * rng.standard_normal(t.size)), 0, None)
            for s, name in (("X", "biomass"), ("S", "substrate"), ("A", "acetate"))
        },
        index=t,
    )
    online = pd.DataFrame({"feed_rate": np.where(tl >= 3.0 - 1e-9, F, 0.0)}, index=tl)
    if do_log:
        g = simulate(plant, X0, 8.0, events=[FeedStart(3.0, F)], t_eval=tl).frame
        online["DO"] = g["DO"].to_numpy()
    return BatchData.from_frames(f"F={F:g}", online, off)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("preset")
    logged, mixed = d / "logged.csv", d / "mixed.csv"
    write_batches([_batch(0.006, 1, True), _batch(0.010, 2, True)], logged)
    write_batches([_batch(0.006, 1, True), _batch(0.010, 2, False)], mixed)
    return {"dir": d, "logged": logged, "mixed": mixed}


def test_preset_names_known_without_torch_match_the_presets() -> None:
    assert tuple(HYBRID_PRESETS) == w.HYBRID_PRESET_NAMES


def test_capacity_preset_is_the_benchmarks_selected_variant() -> None:
    """The settings the benchmark selected (``capacity_do_kia_obs``) are the ones a user gets;
    only the DO log (added per data) and the benchmark's starting Kia (its base had none)
    are not part of the preset."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import process_hybrid as ph

    variant = dict(ph.VARIANTS["capacity_do_kia_obs"])
    assert variant.pop("measured") == ("DO",) and "base_params" in variant
    variant.pop("base_params")
    built = {
        "structure": "residual",
        "dt": ph.RESIDUAL_DT,
        "predict_dt": ph.RESIDUAL_PREDICT_DT,
        "physics_weight": 0.0,
        "warmup": 0,
        "hidden": (32, 32),
        **variant,
    }
    assert HYBRID_PRESETS["capacity"] == built


def _fit(data: Path, save: Path) -> dict:
    w.fit_hybrid(
        w.HybridFitRequest(
            data, "ecoli", x0=X0, set=WRONG, epochs=3, ensemble=1, save=save, preset="capacity"
        )
    )
    return json.loads(save.read_text())


def test_capacity_preset_reads_and_observes_the_do_log_when_every_batch_has_one(
    data: dict[str, Path],
) -> None:
    config = _fit(data["logged"], data["dir"] / "logged.json")
    text = json.dumps(config)
    assert '"capacity"' in text and '"measured": ["DO"]' in text.replace("\n", "")
    assert config["hyper"]["log_weight"] == 1.0  # the log is fitted as an observation too
    # one batch without a DO log: the preset trains without it (DO frozen), still capacity
    config = _fit(data["mixed"], data["dir"] / "mixed.json")
    text = json.dumps(config)
    assert '"capacity"' in text and '"measured": []' in text
    assert config["hyper"]["log_weight"] == 0.0  # no log, nothing to observe


def test_cli_trains_the_capacity_preset(data: dict[str, Path]) -> None:
    out = data["dir"] / "fit.json"
    code, text = run("fit", data["logged"], "--model", "hybrid", "--preset", "capacity",
                     "--x0", X0_TEXT, "--set", "Kia=20", "--epochs", "2", "--ensemble", "1",
                     "--out", out)  # fmt: skip
    assert code == 0, text
    result = json.loads(out.read_text())
    assert result["learned"] == ["capacity"] and result["epochs"] == 2


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--model", "hybrid", "--preset", "fast"], ["preset", "fast", "rates | capacity"]),
        (["--model", "hybrid", "--base", "cho", "--preset", "capacity"], ["E. coli", "cho"]),
        (["--model", "ecoli", "--params", "qS_max", "--preset", "capacity"], ["--preset"]),
    ],
)
def test_bad_preset_is_refused_in_one_line(
    data: dict[str, Path], tmp_path: Path, args: list[str], words: list[str]
) -> None:
    out = tmp_path / "fit.json"
    code, text = run("fit", data["logged"], *args, "--out", out)
    refused(code, text, *words)
    assert not out.exists()
