"""The compiled model (issue 15 item 6): ``gem fba`` answers a one-off command from the
cached solver arrays, with the fluxes of the COBRApy path, and without importing COBRApy."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from biofab.metabolism import LinearProgram, load_model, save_model
from biofab.metabolism.analysis import fba, pfba, split_program
from biofab.metabolism.compiled import CompiledModel, compile_model, quick_fba, solve
from biofab.metabolism.io import cache_entry, compiled_entry, load_compiled
from test_gem_cli_edges import cli  # the gem app with its commands, errors as the CLI prints


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One cache folder for the module: iJO1366 is parsed once."""
    root = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BIOFAB_CACHE", str(root))
        yield root


@pytest.mark.parametrize("name", ["textbook", "iJO1366"])
def test_arrays_give_the_fluxes_of_the_cobrapy_path(cache: Path, name: str) -> None:
    model = load_model(name)  # the first load leaves the compiled entry behind
    compiled = load_compiled(name)
    assert compiled is not None and compiled.shape == (len(model.metabolites), len(model.reactions))
    assert compiled.reactions == tuple(r.id for r in model.reactions)
    assert compiled.gprs[compiled.reactions.index("PGK")] == model.reactions.PGK.gene_reaction_rule
    for use_pfba, slow in ((False, fba(model)), (True, pfba(model))):
        fast = solve(compiled, pfba=use_pfba)
        assert fast is not None
        assert abs(fast.objective_value - slow.objective_value) <= 1e-9
        assert np.abs(fast.fluxes - slow.fluxes.to_numpy()).max() <= 1e-9
        if use_pfba:
            assert slow.total_flux is not None and fast.total_flux is not None
            assert abs(fast.total_flux - slow.total_flux) <= 1e-9 * slow.total_flux
    # pFBA's split program is the one analysis.least_flux solves, array for array.
    split = split_program(LinearProgram.from_model(model)).S
    n = len(model.reactions)
    assert np.array_equal(
        np.r_[compiled.indptr, compiled.indptr[1:] + compiled.indptr[-1]], split.indptr
    )
    assert np.array_equal(np.r_[compiled.data, -compiled.data], split.data)
    assert split.shape[1] == 2 * n


def test_command_prints_what_the_cobrapy_path_prints(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_model("textbook")
    assert load_compiled("textbook") is not None  # so the command answers from the arrays
    for extra in ([], ["--fba"]):
        fast = [cli("fba", "textbook", *extra, "--json"), cli("fba", "textbook", *extra)]
        fast_csv = cli("fba", "textbook", *extra, "--out", tmp_path / "fast.csv")
        with monkeypatch.context() as mp:
            mp.setenv("BIOFAB_CACHE", "off")  # every answer from COBRApy
            slow = [cli("fba", "textbook", *extra, "--json"), cli("fba", "textbook", *extra)]
            slow_csv = cli("fba", "textbook", *extra, "--out", tmp_path / "slow.csv")
        assert fast == slow and fast[0][0] == 0
        assert json.loads(fast[0][1])["objective_value"] > 0.87
        assert fast_csv[0] == slow_csv[0] == 0
        assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "slow.csv").read_bytes()


def test_one_off_command_imports_no_modelling_library(cache: Path, tmp_path: Path) -> None:
    load_model("textbook")
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "biofab.cli", "gem", "fba", "textbook",
         "--json"],
        capture_output=True, text=True, timeout=300, check=True,
        env={**os.environ, "BIOFAB_CACHE": str(cache)},
    )  # fmt: skip
    names = [ln.split("|")[-1].strip() for ln in r.stderr.splitlines() if "import time:" in ln]
    loaded = {n.split(".")[0] for n in names}
    assert "highspy" in loaded and "biofab" in loaded  # the fast path ran
    assert not loaded & {"cobra", "optlang", "sympy", "pandas", "scipy"}, loaded
    assert json.loads(r.stdout)["method"] == "pfba"


def test_unreadable_entry_is_dropped_and_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIOFAB_CACHE", str(tmp_path / "cache"))
    src = save_model(load_model("textbook"), tmp_path / "core.xml")
    assert quick_fba(str(src), pfba=False) is None  # nothing cached yet: the COBRApy path
    load_model(src)
    entry = compiled_entry(src)
    assert entry is not None and entry.is_file() and entry.parent == cache_entry(src).parent
    good = entry.read_bytes()
    answer = quick_fba(str(src), pfba=False)
    assert answer is not None and answer.objective_value > 0.87
    compiled = CompiledModel.load(entry)
    with np.load(entry, allow_pickle=False) as npz:
        arrays = dict(npz)
    wrong_shape = tmp_path / "wrong.npz"
    np.savez(wrong_shape, **{**arrays, "lb": arrays["lb"][:-1]})
    repeated = tmp_path / "repeated.npz"  # one stoichiometry entry twice in a column
    indices = arrays["indices"].copy()
    indices[1] = indices[0]
    np.savez(repeated, **{**arrays, "indices": indices})
    objects = tmp_path / "objects.npz"
    np.savez(objects, **{**arrays, "lb": np.array([None] * len(compiled.lb), dtype=object)})
    junk = (
        good[: len(good) // 2],  # truncated
        b"not an npz",
        pickle.dumps(compiled),  # an entry is data, never code
        wrong_shape.read_bytes(),
        repeated.read_bytes(),
        objects.read_bytes(),  # loading it would need pickle
    )
    for data in junk:
        entry.write_bytes(data)
        assert load_compiled(src) is None and not entry.exists()  # dropped
        load_model(src)  # the next load writes it again
        assert entry.read_bytes() == good
        assert quick_fba(str(src), pfba=False) is not None


def test_what_needs_cobrapy_takes_the_cobrapy_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIOFAB_CACHE", str(tmp_path / "cache"))
    model = load_model("textbook")
    # A constraint added through optlang: no arrays-only form, never compiled.
    model.add_cons_vars(
        model.problem.Constraint(model.reactions.PGI.flux_expression, lb=0, ub=1, name="cap")
    )
    assert compile_model(model) is None
    # An infeasible model: the fast path declines and the one-line error is COBRApy's path's.
    model = load_model("textbook")
    model.reactions.ATPM.bounds = (500.0, 1000.0)
    src = save_model(model, tmp_path / "starved.xml")
    first = cli("fba", src)
    assert load_compiled(src) is not None  # cached, yet not answered from the arrays
    assert cli("fba", src) == first
    assert first[0] == 2 and "infeasible" in first[1]
    # A medium edits the model: COBRApy's path, though the unedited model is compiled.
    load_model("textbook")
    assert load_compiled("textbook") is not None
    anaerobic = tmp_path / "anaerobic.txt"
    anaerobic.write_text("glc__D\nnh4\npi\nh2o\nh\nco2\n")
    code, text = cli("fba", "textbook", "--medium", anaerobic, "--json")
    assert code == 0 and abs(json.loads(text)["objective_value"] - 0.2117) < 1e-3, text
    # Bad input: an unknown model, an output folder that does not exist.
    code, text = cli("fba", "no_such_model")
    assert code == 2 and "unknown model name" in text
    code, text = cli("fba", "textbook", "--out", tmp_path / "missing" / "f.csv")
    assert code == 2 and "missing" in text and not (tmp_path / "missing").exists()
