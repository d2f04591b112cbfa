"""Dynamic FBA: diauxie on iJO1366, fed-batch, unique fluxes, infeasibility, bad scenarios."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from biofab.cli.gem_dfba import register
from biofab.core.errors import InputError, ModelError
from biofab.metabolism import load_model
from biofab.metabolism.dfba import DynamicFBA, LexicographicFBA
from biofab.metabolism.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "dfba" / "hanly_henson_2011.yaml"

# Converged reference for the example (LSODA rtol 1e-9, atol 1e-11; agrees with
# Richardson-extrapolated Euler), see .helpers/dfba_notes.md.
REF_BIOMASS = 2.80065  # gDW/L
REF_ETHANOL = 4.99102  # g/L


def textbook_scenario(**changes: Any) -> dict[str, Any]:
    """Aerobic textbook E. coli core on glucose (g/L, gDW/L, h)."""
    data: dict[str, Any] = {
        "model": "textbook",
        "biomass": {"initial": 0.05},
        "species": {
            "glucose": {
                "exchange": "EX_glc__D_e",
                "mw": 180.16,
                "initial": 2.0,
                "uptake": {"vmax": 10.0, "km": 0.015},
            },
            "acetate": {"exchange": "EX_ac_e", "mw": 59.04, "initial": 0.0},
        },
        "t_end": 6.0,
    }
    data.update(changes)
    return data


@pytest.fixture(scope="module")
def textbook() -> Any:
    return load_model("textbook")


@pytest.fixture(scope="module")
def ijo() -> Any:
    return load_model("iJO1366")


def test_diauxie_on_ijo1366_matches_converged_reference(ijo: Any) -> None:
    sc = Scenario.from_yaml(EXAMPLE)
    res = DynamicFBA(sc, ijo).simulate()
    assert res.status == "completed"
    t_glc = res.event_time("exhausted", "glucose")
    t_xyl = res.event_time("exhausted", "xylose")
    assert t_glc is not None and t_xyl is not None and t_glc < t_xyl < sc.t_end
    tr = res.trajectory
    # xylose waits for glucose (repression), then is consumed
    before = tr[tr["time_h"] < t_glc - 0.5]
    assert before["xylose_g_L"].min() > 7.9
    assert -before["xylose_flux"].max() < 0.1 < -before["glucose_flux"].min()
    final = res.final()
    assert final["biomass_gDW_L"] == pytest.approx(REF_BIOMASS, rel=0.02)
    assert final["ethanol_g_L"] == pytest.approx(REF_ETHANOL, rel=0.02)
    assert final["glucose_g_L"] < 1e-3 and final["xylose_g_L"] < 0.02
    assert set(res.events["event"]) >= {"exhausted", "dormant", "end"}


def test_lexicographic_fluxes_are_unique(ijo: Any) -> None:
    with ijo:
        ijo.reactions.EX_o2_e.lower_bound = 0.0
        warm = LexicographicFBA(ijo)
        cold = LexicographicFBA(ijo)
    glc = warm.index["EX_glc__D_e"]
    # walk the warm instance through other bounds first, then compare at one point
    for v in (9.0, 4.0, 7.5):
        warm.set_bounds(np.array([glc]), -v, 1000.0)
        assert warm.solve().ok
    for fba in (warm, cold):
        fba.set_bounds(np.array([glc]), -6.0, 1000.0)
    a, b = warm.solve(), cold.solve()
    assert a.ok and b.ok and a.fluxes is not None and b.fluxes is not None
    assert a.growth == pytest.approx(b.growth, abs=1e-7)
    assert np.abs(a.fluxes - b.fluxes).max() < 1e-6


def test_fed_batch_feed_start_and_volume(textbook: Any) -> None:
    feed = [{"start": 3.0, "rate": 0.05, "concentrations": {"glucose": 100.0}}]
    batch = DynamicFBA(Scenario.from_dict(textbook_scenario()), textbook).simulate()
    fed = DynamicFBA(Scenario.from_dict(textbook_scenario(feed=feed)), textbook).simulate()
    assert batch.trajectory["volume_L"].eq(1.0).all()
    assert fed.event_time("feed_start") == pytest.approx(3.0)
    tr = fed.trajectory
    assert tr["volume_L"].iloc[-1] == pytest.approx(1.0 + 0.05 * 3.0, rel=1e-6)
    assert set(tr["phase"]) == {0, 1}
    assert "feed_start" in tr.loc[tr["time_h"] == 3.0, "event"].iloc[0]
    # glucose runs out in batch; the feed keeps the fed culture growing
    assert batch.event_time("exhausted", "glucose") is not None
    biomass_gram = lambda r: (r.trajectory["biomass_gDW_L"] * r.trajectory["volume_L"]).iloc[-1]  # noqa: E731
    assert biomass_gram(fed) > 1.5 * biomass_gram(batch)


def test_adaptive_agrees_with_fine_euler(textbook: Any) -> None:
    sim = DynamicFBA(Scenario.from_dict(textbook_scenario(t_end=4.0)), textbook)
    a = sim.simulate().final()
    e = sim.simulate(method="euler", dt=0.002).final()
    assert a["biomass_gDW_L"] == pytest.approx(e["biomass_gDW_L"], rel=5e-3)
    assert a["acetate_g_L"] == pytest.approx(e["acetate_g_L"], rel=2e-2, abs=1e-3)


def test_infeasible_lp_ends_the_run_with_a_message(textbook: Any) -> None:
    sc = Scenario.from_dict(textbook_scenario(t_end=20.0))
    res = DynamicFBA(sc, textbook).simulate()
    assert res.status == "infeasible"
    assert "ATPM" in res.message and "stopped" in res.message
    t_stop = res.event_time("infeasible")
    assert t_stop is not None and t_stop < 20.0
    assert res.trajectory["time_h"].iloc[-1] == pytest.approx(t_stop)
    assert res.trajectory["event"].iloc[-1] == "infeasible"
    # dormant: the cells idle for the rest of the phase and the run reaches t_end
    idle = DynamicFBA(dataclasses.replace(sc, on_infeasible="dormant"), textbook).simulate()
    assert idle.status == "completed" and idle.trajectory["time_h"].iloc[-1] == 20.0
    assert idle.event_time("dormant") == pytest.approx(t_stop, abs=1e-3)


def test_secondary_reaction_stage(textbook: Any) -> None:
    sc = Scenario.from_dict(
        textbook_scenario(t_end=1.0, secondary=[{"reaction": "EX_ac_e", "sense": "max"}])
    )
    hi = DynamicFBA(sc, textbook).simulate().final()
    lo = (
        DynamicFBA(
            dataclasses.replace(sc, stages=Scenario.from_dict(textbook_scenario()).stages), textbook
        )
        .simulate()
        .final()
    )
    assert hi["biomass_gDW_L"] == pytest.approx(lo["biomass_gDW_L"], rel=1e-4)
    assert hi["acetate_g_L"] >= lo["acetate_g_L"] - 1e-9


def app() -> typer.Typer:
    a = typer.Typer()
    register(a)

    @a.callback()
    def _root() -> None:  # keeps `dfba` a named sub-command
        pass

    return a


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    p = tmp_path / "scenario.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_cli_writes_csv_and_plot(tmp_path: Path) -> None:
    p = write(tmp_path, textbook_scenario(t_end=20.0))
    csv, html = tmp_path / "traj.csv", tmp_path / "traj.html"
    res = CliRunner().invoke(
        app(), ["dfba", str(p), "--out", str(csv), "--plot", str(html), "--json"]
    )
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(csv)
    assert {"time_h", "volume_L", "biomass_gDW_L", "glucose_g_L", "growth_rate_per_h"} <= set(
        frame.columns
    )
    assert "infeasible" in res.output  # the status is reported, the trajectory kept
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "plotly" in page and "exhausted" in page


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["species"]["glucose"].update(exchange="EX_nothing_e"), "exchange"),
        (lambda d: d["species"]["glucose"].update(initial=-1.0), "initial"),
        (lambda d: d["species"]["glucose"]["uptake"].update(kmm=1.0), "kmm"),
        (lambda d: d.pop("t_end"), "t_end"),
        (lambda d: d.update(bounds={"NOT_A_RXN": [0, 1]}), "NOT_A_RXN"),
        (lambda d: d.update(feed=[{"start": 1, "rate": 0.1, "concentrations": {"x": 1}}]), "x"),
    ],
)
def test_bad_scenarios_exit_2_without_output(tmp_path: Path, change: Any, field: str) -> None:
    data = textbook_scenario()
    change(data)
    p = write(tmp_path, data)
    csv = tmp_path / "traj.csv"
    res = subprocess.run(
        [sys.executable, "-m", "biofab.cli", "gem", "dfba", str(p), "--out", str(csv)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2, res.stderr
    assert not csv.exists()
    line = res.stderr.strip()
    assert "\n" not in line and str(p) in line and field in line


def test_python_api_errors() -> None:
    with pytest.raises(InputError, match=r"key volume: out of range: expected a number > 0"):
        Scenario.from_dict(textbook_scenario(volume=-1.0), source="s.yaml")
    with pytest.raises(InputError, match="scenario file not found"):
        Scenario.from_yaml("/nonexistent/scenario.yaml")
    sc = Scenario.from_dict(textbook_scenario(), source="s.yaml")
    bad = dataclasses.replace(sc, biomass_reaction="NOPE")
    with pytest.raises(ModelError, match=r"biomass\.reaction"):
        DynamicFBA(bad, load_model("textbook"))


def test_testbed_more_glucose_more_biomass(textbook: Any) -> None:
    from biofab.core import Continuous, Testbed
    from biofab.metabolism.dfba import DfbaTestbed

    tb = DfbaTestbed(
        textbook_scenario(t_end=3.0),
        {"glucose": ("species.glucose.initial", Continuous(0.5, 4.0, unit="g/L"))},
        {"biomass": "biomass_gDW_L"},
        model=textbook,
    )
    assert isinstance(tb, Testbed)
    got = tb.evaluate(pd.DataFrame({"glucose": [0.5, 4.0]}))
    assert list(got.columns) == ["biomass"] and got["biomass"].iloc[1] > got["biomass"].iloc[0]
    with pytest.raises(InputError, match="missing scenario field"):
        DfbaTestbed(
            textbook_scenario(),
            {"g": ("species.nope.initial", Continuous(0, 1))},
            {"biomass": "biomass_gDW_L"},
            model=textbook,
        )
