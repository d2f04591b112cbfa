"""Opentrons OT-2 protocols (Python Protocol API v2) from a transfers frame.

A transfers frame (one row per liquid transfer: ``component``, ``plate``,
``destination_well``, ``volume_nl``) becomes one protocol file per destination
plate. The file is plain Opentrons code, with no biofab import, so a lab tech
can read it, open it in the Opentrons App and run it as any other protocol.

Deck (OT-2 slots): 1 destination plate, 2 tube rack with the component stocks,
3 reservoir with water, 4-11 tip racks (12 is the fixed trash).

Pipetting order and tips:

- water first, into dry wells, with one tip for all wells: the tip only ever
  touches water and empty wells, so nothing is carried between wells;
- then each component with a fresh tip (``tips="component"``), dispensed at
  the top of the well and blown out there: the tip touches only its own stock
  and never the liquid already in the well, so reusing it across the wells of
  that component carries nothing between wells or components. With
  ``tips="transfer"`` each (component, well) gets a fresh tip and is dispensed
  into the liquid near the bottom of the well, the safer choice for viscous
  stocks (lysate, PEG) or volumes close to the pipette minimum, at the cost of
  one tip per transfer.

The simulator (``opentrons_simulate``) lives in a separate virtual environment,
``.venv-opentrons`` (made by ``scripts/opentrons-env.sh``), because the
``opentrons`` package pins numpy < 2, which biofab's own environment cannot take.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from biofab.core.atomic import output_folder, write_atomic
from biofab.core.errors import BiofabError, InputError

if TYPE_CHECKING:
    import pandas as pd

API_LEVEL = "2.15"
"""Protocol API level of the written protocols (OT-2 robot software 7.0 and later)."""

ENV_VARIABLE = "BIOFAB_OPENTRONS_ENV"
"""Environment variable naming the virtual environment that holds ``opentrons_simulate``."""

COLUMNS = ("component", "plate", "destination_well", "volume_nl")

# OT-2 single-channel GEN2 pipettes: (minimum µL, maximum µL, matching tip rack).
# Volume ranges from the Opentrons pipette specifications.
PIPETTES: dict[str, tuple[float, float, str]] = {
    "p20_single_gen2": (1.0, 20.0, "opentrons_96_tiprack_20ul"),
    "p300_single_gen2": (20.0, 300.0, "opentrons_96_tiprack_300ul"),
    "p1000_single_gen2": (100.0, 1000.0, "opentrons_96_tiprack_1000ul"),
}

PLATE_SLOT = 1
TUBE_SLOT = 2
WATER_SLOT = 3
TIP_SLOTS = (4, 5, 6, 7, 8, 9, 10, 11)
WATER = "water"

# Wells per plate format -> (rows, columns).
_PLATE_SHAPES = {96: (8, 12), 384: (16, 24)}
# Tube positions per rack -> (rows, columns) of the Opentrons tube racks.
_RACK_SHAPES = {6: (2, 3), 15: (3, 5), 24: (4, 6)}
_WELL = re.compile(r"^([A-Za-z])0*([1-9][0-9]*)$")
_VOLUME = re.compile(r"_(\d+(?:\.\d+)?)(ml|ul)(?:_|$)")


@dataclass
class ProtocolPlan:
    """What :func:`write_protocol` wrote.

    ``sources`` has one row per source (water first): ``component``, ``labware``,
    ``slot``, ``well``, ``needed_ul`` (sum of the transfers, µL) and ``load_ul``
    (needed plus the dead volume: what to put in the tube, µL). ``text`` is the
    protocol's source; ``path`` is where it was written (None before writing).
    """

    path: Path | None
    plate: str
    text: str
    sources: pd.DataFrame
    aspirations: int
    tips: int
    tip_racks: int


@dataclass
class SimulationResult:
    """Parsed run log of ``opentrons_simulate``.

    ``dispensed`` maps each destination well (on the plate in slot 1) to the
    total volume dispensed into it (µL); ``seconds`` is the simulator's wall time.
    """

    path: Path
    log: str
    aspirations: int
    dispenses: int
    tips: int
    aspirated_ul: float
    dispensed_ul: float
    dispensed: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def _plate_shape(plate: str) -> tuple[int, int]:
    match = re.search(r"_(96|384)_", plate)
    if match is None:
        raise InputError(
            "unknown plate labware", expected="an Opentrons 96- or 384-well plate", found=plate
        )
    return _PLATE_SHAPES[int(match.group(1))]


def _rack_positions(rack: str) -> list[str]:
    """Tube positions of a rack in the Opentrons order (down each column, then across)."""
    match = re.match(r"^opentrons_(\d+)_tuberack_", rack)
    if match is None or int(match.group(1)) not in _RACK_SHAPES:
        raise InputError(
            "unknown tube rack labware",
            expected="an Opentrons 6-, 15- or 24-tube rack",
            found=rack,
        )
    rows, columns = _RACK_SHAPES[int(match.group(1))]
    return [f"{chr(65 + r)}{c + 1}" for c in range(columns) for r in range(rows)]


def _capacity_ul(labware: str) -> float | None:
    """Capacity of one tube or reservoir well read from its load name (µL), if it says."""
    match = _VOLUME.search(labware)
    if match is None:
        return None
    value = float(match.group(1))
    return value * 1000.0 if match.group(2) == "ml" else value


def _normalise_well(well: object, shape: tuple[int, int], row: int) -> str:
    match = _WELL.match(str(well).strip())
    rows, columns = shape
    if match is not None:
        letter, number = match.group(1).upper(), int(match.group(2))
        if ord(letter) - 65 < rows and number <= columns:
            return f"{letter}{number}"
    last = f"{chr(64 + rows)}{columns}"
    raise InputError(
        "unknown well for the plate",
        row=row,
        column="destination_well",
        expected=f"A1..{last}",
        found=well,
    )


def _check_frame(transfers: pd.DataFrame, plate_shape: tuple[int, int]) -> pd.DataFrame:
    """Validate the transfers frame; returns it with wells normalised and µL volumes."""
    import pandas as pd

    missing = [c for c in COLUMNS if c not in transfers.columns]
    if missing:
        raise InputError(
            "transfers frame lacks columns", expected=", ".join(COLUMNS), found=missing
        )
    if len(transfers) == 0:
        raise InputError("no transfers: the transfers frame is empty")
    frame = transfers.loc[:, list(COLUMNS)].reset_index(drop=True)
    volumes = pd.to_numeric(frame["volume_nl"], errors="coerce")
    for i, value in enumerate(volumes):
        if not math.isfinite(value) or value < 0:
            raise InputError(
                "bad transfer volume",
                row=i + 1,
                column="volume_nl",
                expected="a number >= 0 (nL)",
                found=frame["volume_nl"].iloc[i],
            )
    frame["component"] = frame["component"].astype(str)
    frame["destination_well"] = [
        _normalise_well(w, plate_shape, i + 1) for i, w in enumerate(frame["destination_well"])
    ]
    frame["volume_ul"] = volumes / 1000.0
    duplicated = frame.duplicated(["component", "destination_well"])
    if duplicated.any():
        i = int(duplicated.to_numpy().argmax())
        raise InputError(
            "two transfers of one component into one well",
            row=i + 1,
            expected="one row per (component, destination_well)",
            found=f"{frame['component'].iloc[i]} -> {frame['destination_well'].iloc[i]}",
        )
    # A zero volume (e.g. no water needed in a well) is no transfer at all.
    frame = frame[frame["volume_ul"] > 0]
    if len(frame) == 0:
        raise InputError("no transfers: every volume is 0 nL")
    return frame


def _check_volumes(frame: pd.DataFrame, pipette: str) -> None:
    low = PIPETTES[pipette][0]
    # Volumes above the maximum are split into several aspirations, never refused.
    too_small = frame["volume_ul"] < low - 1e-9
    if too_small.any():
        i = frame.index[int(too_small.to_numpy().argmax())]
        row = frame.loc[i]
        raise InputError(
            f"volume below the {pipette} minimum of {low:g} µL: "
            f"{row['component']} into {row['destination_well']}",
            row=int(i) + 1,
            column="volume_nl",
            expected=f">= {low * 1000:g} nL (or 0)",
            found=float(row["volume_ul"] * 1000),
        )


def _parts(volume_ul: float, maximum_ul: float) -> int:
    """Number of aspirations for a volume: equal parts, none above the maximum."""
    return max(1, math.ceil(volume_ul / maximum_ul - 1e-9))


def _source_table(
    frame: pd.DataFrame,
    components: list[str],
    source_labware: str,
    water_labware: str,
    dead_volume_ul: float,
) -> pd.DataFrame:
    import pandas as pd

    positions = _rack_positions(source_labware)
    if len(components) > len(positions):
        raise InputError(
            f"more components than tube positions in {source_labware}",
            expected=f"at most {len(positions)} components",
            found=len(components),
        )
    needed = frame.groupby("component")["volume_ul"].sum()
    rows = []
    if WATER in needed.index:
        rows.append((WATER, water_labware, WATER_SLOT, "A1", float(needed[WATER])))
    for component, position in zip(components, positions, strict=False):
        rows.append((component, source_labware, TUBE_SLOT, position, float(needed[component])))
    table = pd.DataFrame(rows, columns=["component", "labware", "slot", "well", "needed_ul"])
    table["load_ul"] = table["needed_ul"] + dead_volume_ul
    for _, row in table.iterrows():
        capacity = _capacity_ul(str(row["labware"]))
        if capacity is not None and row["load_ul"] > capacity:
            raise InputError(
                f"source '{row['component']}' needs more than one {row['labware']} holds",
                expected=f"<= {capacity:g} µL including {dead_volume_ul:g} µL dead volume",
                found=round(float(row["load_ul"]), 1),
            )
    return table


def _q(text: object) -> str:
    """A Python string literal in double quotes (JSON's escapes are valid Python)."""
    return json.dumps(str(text), ensure_ascii=False)


def _clean(text: object) -> str:
    """Text safe inside a comment or the docstring: one line, no backslash or quote."""
    return " ".join(str(text).split()).replace("\\", "/").replace('"', "'")


def _fmt(volume_ul: float) -> str:
    # nL resolution: volumes come from nL and the pipette cannot do better.
    return f"{round(volume_ul, 3):g}"


def _protocol_text(
    plate_name: str,
    frame: pd.DataFrame,
    sources: pd.DataFrame,
    *,
    plate: str,
    pipette: str,
    mount: str,
    tip_rack: str,
    n_racks: int,
    tips: str,
    title: str | None,
) -> str:
    low, high, _ = PIPETTES[pipette]
    table = ["#   slot  well  component                 load µL  (needed µL)"]
    for _, row in sources.iterrows():
        table.append(
            f"#   {row['slot']:<5} {row['well']:<5} {_clean(row['component']):<25} "
            f"{row['load_ul']:>7.1f}  ({row['needed_ul']:.1f})"
        )
    source_lines = [
        f"    {_q(row['component'])}: ({'WATER' if row['component'] == WATER else 'TUBES'}, "
        f"{_q(row['well'])}),"
        for _, row in sources.iterrows()
    ]
    transfer_lines = []
    for component in sources["component"]:
        rows = frame[frame["component"] == component]
        pairs = [
            f"({_q(w)}, {_fmt(v)})"
            for w, v in zip(rows["destination_well"], rows["volume_ul"], strict=True)
        ]
        transfer_lines.append(f"    {_q(component)}: [")
        # Six wells a line keeps the table readable in an editor.
        for start in range(0, len(pairs), 6):
            transfer_lines.append("        " + ", ".join(pairs[start : start + 6]) + ",")
        transfer_lines.append("    ],")
    name = title or f"biofab cell-free plate {plate_name}"
    n_tips = _tip_count(frame, tips)
    tip_comment = (
        "# Tips: one for all the water (dry wells), then one fresh tip per component,\n"
        "# dispensed and blown out at the top of each well so the tip never touches the\n"
        "# liquid already there: it carries nothing between wells or components."
        if tips == "component"
        else "# Tips: one for all the water (dry wells), then one fresh tip per component and\n"
        "# well, dispensed into the liquid near the bottom of the well."
    )
    tubes = sources.loc[sources["slot"] == TUBE_SLOT, "labware"]
    water = sources.loc[sources["slot"] == WATER_SLOT, "labware"]
    tube_line = (
        f"TUBE_RACK = {_q(tubes.iloc[0])}  # slot {TUBE_SLOT}: component stocks"
        if len(tubes)
        else "TUBE_RACK = None  # no component stocks"
    )
    water_line = (
        f"WATER_RESERVOIR = {_q(water.iloc[0])}  # slot {WATER_SLOT}: water in A1"
        if len(water)
        else "WATER_RESERVOIR = None  # no water"
    )
    lines = [
        f'"""{_clean(name)}.',
        "",
        f"Written by biofab from a transfers table: {len(frame)} transfers into "
        f"{frame['destination_well'].nunique()} wells,",
        f"{n_tips} tips. Volumes are in µL. Water goes first, then each component.",
        '"""',
        "",
        "from opentrons import protocol_api",
        "",
        "metadata = {",
        f'    "protocolName": {_q(name)},',
        '    "author": "biofab",',
        f'    "description": {_q("Cell-free reaction mix for plate " + plate_name)},',
        "}",
        f'requirements = {{"robotType": "OT-2", "apiLevel": "{API_LEVEL}"}}',
        "",
        "# Deck",
        f"PLATE = {_q(plate)}  # slot {PLATE_SLOT}: destination plate {_clean(plate_name)}",
        tube_line,
        water_line,
        f"TIP_RACK = {_q(tip_rack)}  # slot(s) {', '.join(map(str, TIP_SLOTS[:n_racks]))}",
        f"TIP_SLOTS = {list(TIP_SLOTS[:n_racks])}",
        f"PIPETTE = {_q(pipette)}  # {mount} mount, {low:g}-{high:g} µL",
        f"MAX_UL = {high:g}  # larger volumes go in several equal aspirations",
        "",
        "# Sources: fill each tube with at least 'load µL' (the transfers plus a dead volume)",
        *table,
        f'WATER, TUBES = {_q(WATER)}, "tubes"',
        "SOURCES = {",
        *source_lines,
        "}",
        "",
        "# Transfers in pipetting order: component -> [(destination well, µL), ...]",
        "TRANSFERS = {",
        *transfer_lines,
        "}",
        "",
        "",
        "def run(protocol: protocol_api.ProtocolContext) -> None:",
        f"    plate = protocol.load_labware(PLATE, {PLATE_SLOT}, label={_q(plate_name)})",
        "    racks = {}",
        "    if TUBE_RACK is not None:",
        f"        racks[TUBES] = protocol.load_labware(TUBE_RACK, {TUBE_SLOT})",
        "    if WATER_RESERVOIR is not None:",
        f"        racks[WATER] = protocol.load_labware(WATER_RESERVOIR, {WATER_SLOT})",
        "    tip_racks = [protocol.load_labware(TIP_RACK, slot) for slot in TIP_SLOTS]",
        f"    pipette = protocol.load_instrument(PIPETTE, {_q(mount)}, tip_racks=tip_racks)",
        "",
        *[f"    {line}" if line else "" for line in tip_comment.splitlines()],
        "    for component, transfers in TRANSFERS.items():",
        "        rack, tube = SOURCES[component]",
        "        source = racks[rack][tube]",
        '        protocol.comment(f"{component}: {len(transfers)} wells")',
    ]
    if tips == "component":
        lines += [
            "        pipette.pick_up_tip()",
            "        for well, total in transfers:",
            "            parts = -(-total // MAX_UL)  # ceiling division",
            "            volume = total / parts",
            "            for _ in range(int(parts)):",
            "                pipette.aspirate(volume, source)",
            "                if component == WATER:  # dry well: dispense at the bottom",
            "                    pipette.dispense(volume, plate[well].bottom(1))",
            "                else:  # above the liquid: the tip touches only this stock",
            "                    pipette.dispense(volume, plate[well].top(-2))",
            "                pipette.blow_out(plate[well].top(-2))",
            "        pipette.drop_tip()",
        ]
    else:
        lines += [
            "        if component == WATER:  # dry wells: one tip for all of them",
            "            pipette.pick_up_tip()",
            "        for well, total in transfers:",
            "            if component != WATER:  # into liquid: a fresh tip per well",
            "                pipette.pick_up_tip()",
            "            parts = -(-total // MAX_UL)  # ceiling division",
            "            volume = total / parts",
            "            for _ in range(int(parts)):",
            "                pipette.aspirate(volume, source)",
            "                pipette.dispense(volume, plate[well].bottom(1))",
            "                pipette.blow_out(plate[well].top(-2))",
            "            if component != WATER:",
            "                pipette.drop_tip()",
            "        if component == WATER:",
            "            pipette.drop_tip()",
        ]
    return "\n".join(lines) + "\n"


def _tip_count(frame: pd.DataFrame, tips: str) -> int:
    components = set(frame["component"])
    has_water = WATER in components
    if tips == "component":
        return len(components)
    return int(has_water) + int((frame["component"] != WATER).sum())


def build_protocol(
    transfers: pd.DataFrame,
    *,
    plate: str = "corning_96_wellplate_360ul_flat",
    pipette: str = "p20_single_gen2",
    mount: Literal["left", "right"] = "left",
    source_labware: str = "opentrons_24_tuberack_nest_1.5ml_snapcap",
    water_labware: str = "nest_12_reservoir_15ml",
    tip_rack: str | None = None,
    tips: Literal["component", "transfer"] = "component",
    dead_volume_ul: float = 50.0,
    title: str | None = None,
) -> ProtocolPlan:
    """Check one plate's transfers and compose its OT-2 protocol (not written).

    ``transfers`` holds one destination plate (see :func:`write_protocols` for
    several): columns ``component`` ("water" for water), ``plate``,
    ``destination_well`` ("A1".."H12" or "A1".."P24"; "A01" is accepted) and
    ``volume_nl`` (nL; 0 means no transfer). Volumes above the pipette maximum
    are split into equal aspirations; volumes below its minimum (1 µL for the
    P20) are refused. Components get tubes in the rack's order (A1, B1, C1, D1,
    A2, ...) in the order they first appear; water sits in A1 of the reservoir.
    ``dead_volume_ul`` is added to each source's needed volume (µL) for the
    fill volumes in the source table. ``tips``: see the module docstring.

    Raises :class:`~biofab.core.errors.InputError` (one line) on bad input.
    """
    if pipette not in PIPETTES:
        raise InputError("unknown pipette", expected=", ".join(PIPETTES), found=pipette)
    if tips not in ("component", "transfer"):
        raise InputError("unknown tip policy", expected="'component' or 'transfer'", found=tips)
    if mount not in ("left", "right"):
        raise InputError("unknown mount", expected="'left' or 'right'", found=mount)
    shape = _plate_shape(plate)
    plates = list(dict.fromkeys(transfers["plate"].astype(str))) if "plate" in transfers else []
    if len(plates) > 1:
        raise InputError(
            "one protocol per destination plate; use write_protocols for several",
            column="plate",
            found=plates,
        )
    frame = _check_frame(transfers, shape)
    _check_volumes(frame, pipette)
    components = [c for c in dict.fromkeys(frame["component"]) if c != WATER]
    sources = _source_table(frame, components, source_labware, water_labware, dead_volume_ul)
    n_tips = _tip_count(frame, tips)
    n_racks = math.ceil(n_tips / 96)
    if n_racks > len(TIP_SLOTS):
        raise InputError(
            f"the plate needs {n_tips} tips, more than {len(TIP_SLOTS)} tip racks hold",
            expected=f"<= {96 * len(TIP_SLOTS)} tips (tips='component' uses one per component)",
            found=n_tips,
        )
    high = PIPETTES[pipette][1]
    aspirations = sum(_parts(float(v), high) for v in frame["volume_ul"])
    text = _protocol_text(
        plates[0],
        frame,
        sources,
        plate=plate,
        pipette=pipette,
        mount=mount,
        tip_rack=tip_rack or PIPETTES[pipette][2],
        n_racks=n_racks,
        tips=tips,
        title=title,
    )
    return ProtocolPlan(
        path=None,
        plate=plates[0],
        text=text,
        sources=sources,
        aspirations=aspirations,
        tips=n_tips,
        tip_racks=n_racks,
    )


def write_protocol(
    transfers: pd.DataFrame, path: str | os.PathLike[str], **options: Any
) -> ProtocolPlan:
    """Write one plate's OT-2 protocol (Python API v2) to ``path``.

    Options as :func:`build_protocol` (``plate``, ``pipette``, ``source_labware``,
    ``tips`` ...). The file is written atomically; nothing is written when the
    input is bad (:class:`~biofab.core.errors.InputError`, one line). The returned
    plan's ``sources`` is the source map (also a comment table in the file).
    """
    plan = build_protocol(transfers, **options)
    plan.path = write_atomic(path, plan.text)
    return plan


def build_protocols(transfers: pd.DataFrame, **options: Any) -> dict[str, ProtocolPlan]:
    """One protocol per destination plate, by plate name, in memory; options as
    :func:`build_protocol`. Every plate is checked."""
    if "plate" not in transfers.columns or len(transfers) == 0:
        raise InputError("no transfers: the transfers frame is empty or has no 'plate'")
    keys = transfers["plate"].astype(str)
    return {
        str(name): build_protocol(group, **options)
        for name, group in transfers.groupby(keys, sort=False)
    }


def write_protocols(
    transfers: pd.DataFrame, directory: str | os.PathLike[str], **options: Any
) -> dict[str, ProtocolPlan]:
    """One protocol per destination plate, ``<directory>/<plate>.py``; options as
    :func:`build_protocol`. Every plate is checked before any file is written."""
    plans = build_protocols(transfers, **options)
    folder = output_folder(directory)
    for name, plan in plans.items():
        plan.path = write_atomic(folder / f"{name}.py", plan.text)
    return plans


def default_env() -> Path:
    """The virtual environment holding ``opentrons_simulate``: ``$BIOFAB_OPENTRONS_ENV``,
    else ``.venv-opentrons`` at the root of the repository this source tree sits in."""
    configured = os.environ.get(ENV_VARIABLE)
    if configured:
        return Path(configured)
    # src/biofab/cellfree/opentrons.py -> the repository root is three folders up.
    return Path(__file__).resolve().parents[3] / ".venv-opentrons"


_LINE = re.compile(
    r"^(?P<verb>Aspirating|Dispensing) (?P<volume>[0-9.]+) uL (?:from|into) "
    r"(?P<well>[A-P][0-9]+) of .* on (?:slot )?(?P<slot>\w+)"
)


def simulate_protocol(
    path: str | os.PathLike[str],
    env: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 300.0,
) -> SimulationResult:
    """Run ``<env>/bin/opentrons_simulate`` on a protocol and parse its run log.

    Raises :class:`~biofab.core.errors.BiofabError` when the environment is
    missing (run ``scripts/opentrons-env.sh``) or when the simulator reports an
    error (its last line, which names the protocol line, is in the message).
    """
    protocol = Path(path)
    environment = Path(env) if env is not None else default_env()
    simulator = environment / "bin" / "opentrons_simulate"
    if not simulator.exists():
        raise BiofabError(
            f"opentrons simulator not found at {simulator}; run scripts/opentrons-env.sh "
            f"(or set {ENV_VARIABLE})"
        )
    if not protocol.is_file():
        raise InputError("protocol file not found", file=str(protocol))
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [str(simulator), str(protocol)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise BiofabError(f"{protocol}: opentrons_simulate ran past {timeout:g} s") from err
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit code {done.returncode}"
        raise BiofabError(f"{protocol}: opentrons_simulate failed: {reason}")
    return _parse_log(protocol, done.stdout, seconds)


def _parse_log(protocol: Path, log: str, seconds: float) -> SimulationResult:
    aspirations = dispenses = tips = 0
    aspirated = dispensed = 0.0
    per_well: dict[str, float] = {}
    for line in log.splitlines():
        text = line.strip()
        if text.startswith("Picking up tip"):
            tips += 1
            continue
        match = _LINE.match(text)
        if match is None:
            continue
        volume = float(match.group("volume"))
        if match.group("verb") == "Aspirating":
            aspirations += 1
            aspirated += volume
        else:
            dispenses += 1
            dispensed += volume
            if match.group("slot") == str(PLATE_SLOT):
                well = match.group("well")
                per_well[well] = per_well.get(well, 0.0) + volume
    return SimulationResult(
        path=protocol,
        log=log,
        aspirations=aspirations,
        dispenses=dispenses,
        tips=tips,
        aspirated_ul=aspirated,
        dispensed_ul=dispensed,
        dispensed=per_well,
        seconds=seconds,
    )


def source_map(plan: ProtocolPlan) -> Mapping[str, str]:
    """Component -> "slot N WELL" for a written protocol (water first)."""
    return {
        str(row["component"]): f"slot {row['slot']} {row['well']}"
        for _, row in plan.sources.iterrows()
    }
