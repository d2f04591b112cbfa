"""The cell-free workflows called directly: run (loop and replay), plan, import_plates.

Each input path also gets bad input: one BiofabError line, and nothing written.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from biofab.campaign import Campaign
from biofab.cellfree.stocks import StockTable
from biofab.cellfree.workflows import (
    ImportRequest,
    PlanRequest,
    RunRequest,
    import_plates,
    plan,
    run,
)
from biofab.core import BiofabError, InputError

NAMES = StockTable.default().varied_names


@pytest.fixture(scope="module")
def loop_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("wf") / "run"
    return run(RunRequest(out=out, rounds=2, batch=4, seed=1, progress=False))


def _one_line(err: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(err.value)
    assert "\n" not in text.strip(), text
    return text


# -- run -------------------------------------------------------------------------------------
def test_run_drives_the_txtl_loop_through_plate_files(loop_run) -> None:
    out = loop_run.report.parent
    assert loop_run.report == out / "report.html"
    assert not loop_run.report.exists()  # the page is the interface's to write
    assert (out / "campaign.db").is_file()
    assert [r.round for r in loop_run.rounds] == [1, 2]
    assert all(Path(f).is_file() for f in loop_run.files)
    assert {Path(f).name for f in loop_run.files} >= {
        "layout.csv", "echo_picklist.csv", "plate_reader.csv", "results.csv", "cost.csv"
    }  # fmt: skip
    frame = loop_run.to_frame()
    assert frame["n"].tolist() == [4, 4]
    assert frame.equals(loop_run.campaign.history())
    data = json.loads(loop_run.to_json())
    assert data["campaign"].startswith("cellfree-") and len(data["history"]) == 2
    assert data["files"] == loop_run.files
    titles = [title for title, _ in loop_run.sections]
    assert titles[0].startswith("GFP time course") and "Plate QC per round" in titles
    assert "TX-TL" in loop_run.testbed


def test_run_sections_make_the_report_page(loop_run, tmp_path: Path) -> None:
    from biofab.report import write_report

    page = write_report(loop_run.campaign, tmp_path / "r.html", loop_run.sections)
    html = page.read_text()
    assert "GFP time course" in html and "Reagent cost per plate" in html


def test_run_is_reproducible_from_its_seed(loop_run, tmp_path: Path) -> None:
    again = run(RunRequest(out=tmp_path / "again", rounds=2, batch=4, seed=1, progress=False))
    first = loop_run.campaign.data()[NAMES].reset_index(drop=True)
    assert first.equals(again.campaign.data()[NAMES].reset_index(drop=True))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"testbed": "wetlab"}, "unknown testbed"),
        ({"dispenser": "pipettor"}, "unknown dispenser"),
        ({"plate": 48}, "unknown plate"),
        ({"rounds": 0}, "rounds too small"),
        ({"batch": 0}, "batch too small"),
        ({"volume_ul": -1.0}, "bad volume"),
        ({"noise": float("nan")}, "bad noise"),
        ({"stocks": Path("no-such-stocks.csv")}, "stock table not found"),
        ({"replay": Path("no-such-folder")}, "replay data not found"),
        ({"report": Path("missing-dir/report.html")}, "does not exist"),
    ],
)
def test_run_refuses_bad_input_before_writing(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    request = replace(RunRequest(out=tmp_path / "run", progress=False), **change)
    with pytest.raises(BiofabError) as err:
        run(request)
    assert message in _one_line(err)
    assert list(tmp_path.iterdir()) == []  # no folder, no store


def test_run_replays_a_published_campaign_from_its_pool(
    tmp_path: Path, borkowski_dir: Path
) -> None:
    from biofab.cellfree.workflows import read_replay

    result = run(
        RunRequest(out=tmp_path / "replay", replay=borkowski_dir, rounds=2, batch=3,
                   progress=False)
    )  # fmt: skip
    assert result.testbed.startswith("replay of") and result.campaign.name.startswith("replay-")
    assert (tmp_path / "replay" / "campaign.db").is_file()
    assert result.rounds == [] and result.sections == [] and result.loop is None
    assert result.to_frame()["n"].sum() == 6
    pool = read_replay(borkowski_dir)
    keys = set(pool.space.keys(pool.table))
    assert set(pool.space.keys(result.campaign.data())) <= keys  # only measured compositions


def test_run_replay_refuses_a_folder_without_data(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BiofabError) as err:
        run(RunRequest(out=tmp_path / "replay", replay=empty, progress=False))
    _one_line(err)
    assert not (tmp_path / "replay").exists()


# -- plan ------------------------------------------------------------------------------------
@pytest.fixture
def designs(loop_run, tmp_path: Path) -> Path:
    frame = pd.read_csv(loop_run.rounds[0].results)[NAMES]
    path = tmp_path / "designs.csv"
    frame.to_csv(path, index=False)
    return path


def test_plan_writes_layout_picklist_and_cost(designs: Path, tmp_path: Path) -> None:
    result = plan(PlanRequest(designs=designs, out=tmp_path / "plan"))
    names = [Path(f).name for f in result.files]
    assert names == ["layout.csv", "transfers.csv", "echo_picklist.csv", "source_plate_map.csv"]
    assert all(Path(f).is_file() for f in result.files)
    assert (tmp_path / "plan" / "cost.csv").is_file()
    layout = result.to_frame()
    assert set(layout["role"]) == {"sample", "reference", "blank"}
    assert (layout[layout.role == "sample"].groupby("design").size() == 2).all()
    data = json.loads(result.to_json())
    assert data["plates"] == 1 and data["cost"][0]["plate"] == "P1"


def test_plan_for_an_opentrons_writes_one_protocol_per_plate(tmp_path: Path) -> None:
    from biofab.cellfree.loop import CellFreeLoop
    from biofab.cellfree.stocks import Opentrons

    # the reference composition, on the P20's grid at 50 µL
    grid = CellFreeLoop(StockTable.default(), lambda x: x, tmp_path, volume_ul=50.0,
                        dispenser=Opentrons())  # fmt: skip
    designs = tmp_path / "designs.csv"
    pd.DataFrame([grid.reference] * 3)[NAMES].to_csv(designs, index=False)
    result = plan(
        PlanRequest(designs=designs, out=tmp_path / "ot", dispenser="opentrons", volume_ul=50.0)
    )
    assert (tmp_path / "ot" / "opentrons" / "P1.py").is_file()
    assert str(tmp_path / "ot" / "opentrons" / "P1.py") in result.files


def test_plan_refuses_bad_input_before_writing(designs: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(designs)
    frame.drop(columns=[NAMES[0]]).to_csv(tmp_path / "short.csv", index=False)
    pd.concat([frame] * 30).to_csv(tmp_path / "many.csv", index=False)
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x01garbage")
    stocks = StockTable.default().to_frame()
    stocks.loc[stocks["component"] == "dna", "stock"] = 20.0
    stocks.to_csv(tmp_path / "dilute.csv", index=False)
    cases = [
        (PlanRequest(designs=tmp_path / "short.csv", out=tmp_path / "p"), "missing component"),
        (PlanRequest(designs=tmp_path / "none.csv", out=tmp_path / "p"), "not found"),
        (PlanRequest(designs=tmp_path / "binary.csv", out=tmp_path / "p"), "text"),
        (PlanRequest(designs=tmp_path / "many.csv", out=tmp_path / "p", max_plates=1), "wells"),
        (PlanRequest(designs=designs, out=tmp_path / "p", stocks=tmp_path / "dilute.csv"), "dna"),
        (PlanRequest(designs=designs, out=tmp_path / "p", replicates=0), "replicates"),
        (PlanRequest(designs=designs, out=tmp_path / "p", max_plates=0), "max_plates"),
    ]
    for request, message in cases:
        with pytest.raises(BiofabError) as err:
            plan(request)
        assert message in _one_line(err), request
        assert not (tmp_path / "p").exists(), request  # nothing half-written


# -- import ----------------------------------------------------------------------------------
def test_import_reads_plates_and_ingests_into_an_existing_campaign(
    loop_run, tmp_path: Path
) -> None:
    first = loop_run.rounds[0]
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    space, objectives = loop_run.loop.space, loop_run.loop.objectives
    Campaign.create("lab", space, list(objectives), store=url)
    request = ImportRequest((first.readings,), first.layout, tmp_path / "res.csv", "lab", url)
    result = import_plates(request)
    assert result.files == [str(tmp_path / "res.csv")]
    assert len(result.to_frame()) == 4 == result.ingested
    assert len(pd.read_csv(tmp_path / "res.csv")) == 4
    data = json.loads(result.to_json())
    assert data["designs"] == 4 and data["campaign"] == "lab" and data["qc"][0]["z_prime"] > 0.5
    assert len(Campaign.load("lab", store=url).data()) == 4
    again = import_plates(request)  # the same readings again add nothing
    assert again.ingested == 0


def test_import_without_a_campaign_only_writes_the_table(loop_run, tmp_path: Path) -> None:
    first = loop_run.rounds[0]
    result = import_plates(ImportRequest((first.readings,), first.layout, tmp_path / "r.csv"))
    assert result.campaign is None and result.ingested == 0
    assert pd.read_csv(tmp_path / "r.csv")["relative_yield"].notna().all()


def test_import_refuses_bad_input_before_writing(loop_run, tmp_path: Path) -> None:
    first, second = loop_run.rounds
    out = tmp_path / "res.csv"
    short = tmp_path / "short.csv"
    pd.read_csv(first.readings).iloc[1:].to_csv(short, index=False)
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    cases: list[tuple[ImportRequest, type[BiofabError], str]] = [
        (ImportRequest((short,), first.layout, out), InputError, "no reading"),
        (ImportRequest((), first.layout, out), InputError, "no plate-reader files"),
        (ImportRequest((first.readings,), first.layout, tmp_path / "no" / "r.csv"),
         InputError, "does not exist"),
        (ImportRequest((first.readings,), first.layout, out, "lab", fresh),
         InputError, "no biofab store"),
    ]  # fmt: skip
    for request, kind, message in cases:
        with pytest.raises(kind) as err:
            import_plates(request)
        assert message in _one_line(err), request
        assert not out.exists() and not (tmp_path / "fresh.db").exists(), request
    # a campaign that is not in the store: nothing ingested elsewhere, no table written
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    Campaign.create("other", loop_run.loop.space, list(loop_run.loop.objectives), store=url)
    with pytest.raises(BiofabError) as err:
        import_plates(ImportRequest((second.readings,), second.layout, out, "lab", url))
    _one_line(err)
    assert not out.exists()
