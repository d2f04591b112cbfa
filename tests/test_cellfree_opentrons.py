"""Opentrons OT-2 protocols: written from a transfers frame, run by the real simulator.

The simulator lives in ``.venv-opentrons`` (``scripts/opentrons-env.sh``; ``make test``
prepares it). Without it these tests skip locally and fail under CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from biofab.cellfree.opentrons import (
    PIPETTES,
    build_protocol,
    default_env,
    simulate_protocol,
    write_protocol,
    write_protocols,
)
from biofab.core.errors import BiofabError, InputError

COMPONENTS = ["mg_glutamate", "k_glutamate", "pga", "ntp", "amino_acids", "dna"]
WELLS = ["A1", "B1", "C1", "D1", "E1", "F1", "G1", "H1"]


@pytest.fixture(scope="module")
def simulator_env() -> Path:
    env = default_env()
    if not (env / "bin" / "opentrons_simulate").exists():
        reason = f"opentrons simulator missing at {env}: run scripts/opentrons-env.sh"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return env


def transfers_frame() -> pd.DataFrame:
    """6 components + water into 8 wells of plate P1 (nL), one 25 µL transfer to split."""
    rows = []
    for i, well in enumerate(WELLS):
        rows.append(("water", "P1", well, 3000.0 + 500.0 * i))
        for j, component in enumerate(COMPONENTS):
            rows.append((component, "P1", well, 1000.0 + 250.0 * ((i + j) % 4)))
    rows.append(("pga", "P1", "A2", 25000.0))  # above the P20's 20 µL: two aspirations
    return pd.DataFrame(rows, columns=["component", "plate", "destination_well", "volume_nl"])


def test_protocol_runs_in_the_simulator(tmp_path: Path, simulator_env: Path) -> None:
    frame = transfers_frame()
    plan = write_protocol(frame, tmp_path / "P1.py")
    assert plan.path == tmp_path / "P1.py"
    text = plan.path.read_text()
    # Plain Opentrons code: nothing of biofab inside, the API level declared.
    assert "biofab." not in text and "import biofab" not in text
    assert '"apiLevel": "2.15"' in text and "from opentrons import protocol_api" in text
    compile(text, "P1.py", "exec")

    result = simulate_protocol(plan.path, env=simulator_env)
    assert plan.aspirations == len(frame) + 1 == result.aspirations == result.dispenses
    assert result.tips == plan.tips == 1 + len(COMPONENTS)
    assert result.aspirated_ul == pytest.approx(frame["volume_nl"].sum() / 1000)
    expected = frame.groupby("destination_well")["volume_nl"].sum() / 1000
    assert result.dispensed == pytest.approx(expected.to_dict())
    # Water first, then each component in the order of the sources table.
    order = [line.split(":")[0] for line in result.log.splitlines() if line.endswith(" wells")]
    assert order == ["water", *COMPONENTS]


def test_source_map_is_returned_and_commented(tmp_path: Path) -> None:
    plan = write_protocol(transfers_frame(), tmp_path / "P1.py")
    sources = plan.sources.set_index("component")
    assert list(sources.index) == ["water", *COMPONENTS]
    assert sources.loc["water", "slot"] == 3
    # Tubes fill down each rack column first (A1, B1, C1, D1, A2, ...).
    assert list(sources["well"].iloc[1:]) == ["A1", "B1", "C1", "D1", "A2", "B2"]
    assert sources.loc["pga", "needed_ul"] == pytest.approx(11.0 + 25.0)
    assert sources.loc["pga", "load_ul"] == pytest.approx(36.0 + 50.0)
    text = plan.text
    assert "#   2     C1    pga" in text and '"pga": (TUBES, "C1")' in text


def test_384_plate_fresh_tip_per_transfer(tmp_path: Path, simulator_env: Path) -> None:
    frame = pd.DataFrame(
        {
            "component": ["water", "water", "dna", "dna", "ntp", "ntp"],
            "plate": "P2",
            "destination_well": ["A01", "P24", "A01", "P24", "A01", "P24"],
            "volume_nl": [0.0, 2000.0, 1500.0, 1000.0, 2500.0, 1000.0],
        }
    )
    plan = write_protocol(
        frame, tmp_path / "P2.py", plate="corning_384_wellplate_112ul_flat", tips="transfer"
    )
    assert plan.path is not None
    result = simulate_protocol(plan.path, env=simulator_env)
    # No water into A1 (0 nL); one tip for water, then one per component and well.
    assert result.aspirations == 5
    assert result.tips == plan.tips == 1 + 4
    assert result.dispensed == pytest.approx({"A1": 4.0, "P24": 4.0})


def test_simulator_error_is_reported(tmp_path: Path, simulator_env: Path) -> None:
    plan = write_protocol(transfers_frame(), tmp_path / "P1.py")
    # A protocol edited by hand to aspirate 25 µL at once into a 20 µL tip.
    broken = tmp_path / "broken.py"
    broken.write_text(plan.text.replace("MAX_UL = 20 ", "MAX_UL = 30 "))
    with pytest.raises(BiofabError, match=r"opentrons_simulate failed:.*25"):
        simulate_protocol(broken, env=simulator_env)


def test_missing_simulator_names_the_script(tmp_path: Path) -> None:
    plan = write_protocol(transfers_frame(), tmp_path / "P1.py")
    with pytest.raises(BiofabError, match=r"run scripts/opentrons-env\.sh") as err:
        simulate_protocol(plan.path or "", env=tmp_path / "no-env")
    assert err.value.exit_code == 2


def test_one_protocol_per_plate(tmp_path: Path) -> None:
    frame = pd.concat([transfers_frame(), transfers_frame().assign(plate="P2")])
    plans = write_protocols(frame, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["P1.py", "P2.py"]
    assert plans["P2"].plate == "P2" and 'label="P2"' in plans["P2"].text
    with pytest.raises(InputError, match="one protocol per destination plate"):
        write_protocol(frame, tmp_path / "both.py")
    assert not (tmp_path / "both.py").exists()


@pytest.mark.parametrize(
    ("change", "options", "message"),
    [
        (
            lambda f: f.assign(volume_nl=f["volume_nl"].where(f.index != 3, 500.0)),
            {},
            "below the p20_single_gen2 minimum of 1 µL",
        ),
        (
            lambda f: f.assign(destination_well=f["destination_well"].replace("H1", "I1")),
            {},
            "unknown well for the plate",
        ),
        (
            lambda f: f.assign(destination_well=f["destination_well"].replace("H1", "H13")),
            {},
            "expected A1..H12",
        ),
        (lambda f: f.iloc[:0], {}, "the transfers frame is empty"),
        (
            lambda f: f.assign(volume_nl=f["volume_nl"].where(f.index != 2, -5.0)),
            {},
            "bad transfer volume",
        ),
        (lambda f: f.drop(columns="volume_nl"), {}, "lacks columns"),
        (
            lambda f: pd.concat([f, f.iloc[[1]].assign(component="peg")]),
            {"source_labware": "opentrons_6_tuberack_falcon_50ml_conical"},
            "more components than tube positions",
        ),
        (lambda f: f, {"pipette": "p50_single"}, "unknown pipette"),
        (lambda f: f, {"plate": "some_plate"}, "unknown plate labware"),
        (lambda f: pd.concat([f, f.iloc[[1]]]), {}, "two transfers of one component"),
    ],
)
def test_bad_input_one_line_no_file(
    tmp_path: Path, change: object, options: dict[str, object], message: str
) -> None:
    frame = change(transfers_frame())  # type: ignore[operator]
    target = tmp_path / "P1.py"
    with pytest.raises(InputError, match=message) as err:
        write_protocol(frame, target, **options)
    assert "\n" not in str(err.value)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_large_volumes_split_and_p300_minimum() -> None:
    frame = transfers_frame()
    # P300: 20-300 µL, so the 1 µL component volumes are refused, naming the row.
    with pytest.raises(InputError, match=r"row 1, .*minimum of 20 µL: water into A1"):
        build_protocol(frame, pipette="p300_single_gen2")
    big = pd.DataFrame(
        {"component": "water", "plate": "P1", "destination_well": ["A1"], "volume_nl": [45000.0]}
    )
    plan = build_protocol(big)
    assert plan.aspirations == 3 and PIPETTES["p20_single_gen2"][1] == 20.0
