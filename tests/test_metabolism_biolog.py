"""The Biolog protocol follows the base medium: each plate's compound replaces the
medium's own carbon, nitrogen, phosphorus or sulfur source, found from its composition
(metabolite formulas) or named, with one warning line when none can be found."""

from __future__ import annotations

from typing import Any

import pytest

from biofab.core.errors import InputError
from biofab.metabolism import get_medium, load_model
from biofab.metabolism.media import Medium
from biofab.metabolism.phenotypes import BiologTest, base_sources, biolog_benchmark
from conftest import shared_data

MEDIA = "metabolism/carveme_benchmark/media_db.tsv"
M9 = get_medium("M9")
LACTATE = Medium("M9-lactate", (*M9.without("glc__D").compounds, "lac__D"))
CARBON = [
    BiologTest("carbon", c, c, g)
    for c, g in [("glc__D", True), ("fru", True), ("for", False), ("co2", False), ("ac", True)]
]


@pytest.fixture(scope="module")
def textbook() -> Any:
    return load_model("textbook")


def _predicted(report: dict[str, Any]) -> dict[str, bool]:
    return {w["compound"]: w["predicted"] for w in report["wells"]}


def test_lactate_base_replaces_lactate_not_glucose(textbook: Any) -> None:
    found, notes = base_sources(textbook, LACTATE, plates=["carbon", "nitrogen", "phosphorus"])
    assert found == {"carbon": ("lac__D",), "nitrogen": ("nh4",), "phosphorus": ("pi",)}
    assert notes == []
    on_lac = biolog_benchmark(textbook, CARBON, LACTATE)
    assert on_lac["base_sources"]["carbon"] == ["lac__D"] and on_lac["base_growth"] > 0.1
    pred = _predicted(on_lac)
    # Lactate is gone from every carbon well: formate and CO2 cannot feed the core model.
    assert pred == {"glc__D": True, "fru": True, "for": False, "co2": False, "ac": True}
    assert not all(pred.values())
    # The calls do not depend on which carbon source the base medium had.
    assert _predicted(biolog_benchmark(textbook, CARBON, M9)) == pred
    assert on_lac["scores"]["mcc"] == pytest.approx(1.0)


def test_named_sources_override_and_are_checked(textbook: Any) -> None:
    rich = LACTATE.plus("glc__D")  # two carbon sources; name only one of them
    found, _ = base_sources(textbook, rich, plates=["carbon"], given={"carbon": ["lac__D"]})
    assert found == {"carbon": ("lac__D",)}
    report = biolog_benchmark(textbook, CARBON, rich, sources={"carbon": ["lac__D"]})
    assert all(_predicted(report).values())  # glucose stays: every well grows, as asked
    both = biolog_benchmark(textbook, CARBON, rich)
    assert both["base_sources"]["carbon"] == ["glc__D", "lac__D"]
    assert not _predicted(both)["for"]
    with pytest.raises(InputError, match="carbon source is not in the base medium") as err:
        base_sources(textbook, LACTATE, given={"carbon": ["succ"]})
    assert "succ" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="unknown Biolog plate"):
        base_sources(textbook, LACTATE, given={"iron": ["fe2"]})


def test_missing_source_warns_in_one_line(textbook: Any) -> None:
    # e_coli_core has no sulfate exchange: no sulfur source in M9 for this model.
    wells = [*CARBON[:1], BiologTest("sulfur", "glc__D", "glucose", False)]
    report = biolog_benchmark(textbook, wells, M9)
    assert report["base_sources"]["sulfur"] == []
    (note,) = report["warnings"]
    assert "sulfur" in note and "--sulfur-source" in note and "M9" in note and "\n" not in note


def test_missing_formula_falls_back_to_the_classic_source(textbook: Any) -> None:
    model = textbook.copy()
    model.metabolites.get_by_id("glc__D_e").formula = None
    found, notes = base_sources(model, M9, plates=["carbon"])
    assert found == {"carbon": ("glc__D",)} and notes == []
    model.metabolites.get_by_id("lac__D_e").formula = ""
    found, notes = base_sources(model, LACTATE, plates=["carbon"])
    assert found == {"carbon": ()} and "--carbon-source" in notes[0]


def test_trace_supplements_stay_in_the_medium() -> None:
    """ShewMM: lactate is the carbon source; its ten vitamins are taken only for biomass."""
    ijo = load_model("iJO1366")
    shew = get_medium("ShewMM", shared_data(MEDIA))
    found, notes = base_sources(ijo, shew)
    assert found["carbon"] == ("lac__D", "lac__L")
    assert {"thm", "btn", "ribflv", "fol", "cbl1"}.isdisjoint(found["carbon"])
    assert found["nitrogen"] == ("nh4",) and found["sulfur"] == ("so4",)
    assert notes == []
