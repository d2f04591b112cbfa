"""``Campaign``: the persistent record of one design-build-test-learn loop.

A campaign owns a space and its objectives, and keeps every round, design,
measurement and model in a :class:`~biofab.store.Store`. Everything the CLI
does is a method here, so a notebook gets the same thing.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biofab.campaign.measured import best_so_far, column, measured_designs
from biofab.campaign.results import CHUNK_ROWS, ResultsParser, iter_table
from biofab.core import (
    InputError,
    NotEnoughDataError,
    Objective,
    PoolTestbed,
    Space,
    Testbed,
    TestbedExecutor,
)
from biofab.core.progress import Steps
from biofab.core.progress import progress as progress_reporter

# Only the light parts of biofab.learn at import time: torch and BoTorch load
# where a model is fitted or read, so `biofab campaign status` starts fast.
from biofab.learn.recommendation import Recommendation, Recommender
from biofab.learn.state import LEGACY_PICKLE, STATE_FORMAT, can_save, dumps, load_snapshot
from biofab.learn.surrogate import Surrogate
from biofab.store import CampaignRecord, IngestResult, Store

if TYPE_CHECKING:
    # pandas loads where a frame is built, not at import: read commands such as
    # `biofab campaign status` summarise from plain records and start fast.
    import pandas as pd

    from biofab.learn.calibration import RecordScale

    #: What :meth:`Campaign.score` reads: a frame, or records keyed by column name.
    Table = pd.DataFrame | list[dict[str, Any]]


#: How many of the latest measured rounds the record factor learns from (None: all).
RECORD_WINDOW: int | None = None


class Campaign:
    """One DBTL loop, stored.

    >>> c = Campaign.create("cfps-1", space, ["yield:max"])
    >>> batch = c.recommend(20)          # a Recommendation; batch.to_frame() -> CSV
    >>> c.ingest("plate1_results.csv")   # all rows or none
    >>> from biofab.report import write_report
    >>> write_report(c, "report.html")   # the report is an interface, above the engine
    """

    def __init__(self, name: str, space: Space, objectives: list[Objective], store: Store):
        self.name = name
        self.space = space
        self.objectives = objectives
        self.store = store

    # -- lifecycle -------------------------------------------------------------
    @classmethod
    def create(
        cls,
        name: str,
        space: Space,
        objectives: list[Objective | str],
        *,
        store: Store | str | None = None,
        who: str | None = None,
        project_id: int | None = None,
    ) -> Campaign:
        """A new campaign; ``project_id``: the service project it belongs to (None locally)."""
        objs = [o if isinstance(o, Objective) else Objective.parse(o) for o in objectives]
        if not objs:
            raise InputError("a campaign needs at least one objective", expected="NAME:max|min")
        clash = {o.name for o in objs} & set(space.names)
        if clash:
            raise InputError("an objective shares a name with a parameter", found=sorted(clash))
        db = _store(store)
        db.create_campaign(
            name, space.to_yaml(), [o.to_dict() for o in objs], who=who, project_id=project_id
        )
        return cls(name, space, objs, db)

    @classmethod
    def load(cls, name: str, *, store: Store | str | None = None) -> Campaign:
        db = _store(store)
        return cls.of(db.get_campaign(name), db)

    @classmethod
    def of(cls, record: CampaignRecord, store: Store) -> Campaign:
        """The campaign of a record already read from ``store`` (no second query)."""
        space = _space(record.space_yaml)
        objs = [Objective.from_dict(o) for o in record.objectives]
        return cls(record.name, space, objs, store)

    @property
    def objective_names(self) -> list[str]:
        return [o.name for o in self.objectives]

    # -- data ----------------------------------------------------------------
    def data(self) -> pd.DataFrame:
        """One row per measured design: parameters, ``round``, then per objective
        its value and ``<objective>_std`` (replicate-aware; repeated measurements
        of a design are averaged)."""
        import pandas as pd

        rows = self.measured()
        cols = [
            *self.space.names,
            "round",
            "design_id",
            *self.objective_names,
            *(f"{o}_std" for o in self.objective_names),
        ]
        if not rows:
            return pd.DataFrame(columns=[*self.space.names, "round", *self.objective_names])
        out = pd.DataFrame.from_records(rows, columns=cols)
        out["round"] = out["round"].astype("Int64")
        return out

    def measured(self) -> list[dict[str, Any]]:
        """The records behind :meth:`data`, without pandas (see
        :func:`biofab.campaign.measured.measured_designs`)."""
        numeric = [n for n, p in self.space.parameters.items() if p.numeric]
        records = self.store.measurement_records(self.name)
        return measured_designs(records, self.space.names, self.objective_names, numeric)

    def utilities(self, data: Table) -> tuple[np.ndarray, np.ndarray | None]:
        """Measured values -> utilities ``(n, m)`` (higher better) and noise variances.

        ``data`` is :meth:`data`'s frame or :meth:`measured`'s records.
        """
        u = np.column_stack([o.utility(_column(data, o.name)) for o in self.objectives])
        std = np.column_stack([_column(data, f"{o.name}_std") for o in self.objectives])
        yvar = None if np.isnan(std).any() else std**2
        return u, yvar

    def score(self, data: Table) -> np.ndarray:
        """One number per design (higher better): the weighted sum of standardised
        utilities, or the utility itself for a single objective."""
        u, _ = self.utilities(data)
        if u.shape[1] == 1:
            return u[:, 0]
        z = (u - u.mean(0)) / np.where(u.std(0) > 0, u.std(0), 1.0)
        w = np.array([o.weight for o in self.objectives])
        return z @ w

    # -- the loop --------------------------------------------------------------
    def recommend(
        self,
        n: int,
        *,
        recommender: Recommender | None = None,
        candidates: pd.DataFrame | None = None,
        seed: int | None = None,
        expect_version: int | None = None,
        record_calibration: bool = True,
        record_window: int | None = RECORD_WINDOW,
        prior: Mapping[str, Mapping[str, float]] | None = None,
    ) -> Recommendation:
        """Choose, store and return the next batch of ``n`` designs.

        Before enough data exist for a model, the batch is space-filling; then
        the campaign's default (or the given) recommender proposes it. Designs
        recommended earlier but not yet measured are never proposed again.
        ``expect_version``: store the round only if the campaign is still at
        this version (else ``StaleVersionError``, nothing stored).

        ``record_calibration``: after the recommender has chosen, multiply the
        batch's *reported* std by the factor that earlier rounds' measured
        picks ask for (:meth:`record_scales`); the choice is not changed. A
        batch is the recommender's top picks, whose errors are larger than the
        out-of-fold errors the recommender calibrates on. The factor per output
        is stored in the round's notes (``record_scale``), and every stored
        ``predicted`` std carries it. ``record_window``: the factor from only
        the latest rounds with measured picks (None: every earlier round).

        ``prior``: a site library's prior scores ``{site: {choice: score}}`` (e.g.
        :func:`biofab.campaign.site_prior.read_site_prior`) for the variant
        recommender's prior mean, its weight fitted each round (0 when the data
        contradict it). The space-filling start has no model and does not use it;
        any recommender other than the variant recommender's epistatic GP is refused.
        The round's notes say whether it was used (``site_prior``).
        """
        from biofab.learn import (
            SpaceFilling,
            default_recommender,
            initial_batch_size,
            permutation_importance,
        )

        if n < 1:
            raise InputError("batch size must be at least 1", found=n)
        data = self.data()
        round_index = len(self.store.rounds(self.name))
        pending = self._pending(data)
        if recommender is None:
            recommender = (
                SpaceFilling()
                if len(data) < initial_batch_size(self.space)
                else default_recommender(self.space, len(self.objectives))
            )
        if prior is not None:
            recommender = _with_site_prior(recommender, prior)
        multi = recommender.outputs == "multi"
        values, yvar = np.zeros((len(data), 1)), None
        if len(data):
            u, yvar = self.utilities(data)
            values = u if multi else self.score(data)[:, None]
            if not multi and u.shape[1] > 1:
                yvar = None  # a weighted score has no single replicate variance
        rec = recommender.recommend(
            self.space,
            data.reindex(columns=self.space.names),
            values,
            n,
            yvar=yvar,
            candidates=None if candidates is None else candidates.reindex(columns=self.space.names),
            round_index=round_index,
            seed=seed,
            pending=pending,
        )
        if len(rec) == 0:
            raise InputError(
                "no unmeasured design is left to recommend", found="an exhausted space"
            )
        self._to_objective_units(rec)
        factors = self.record_scales(data, window=record_window) if record_calibration else {}
        for j, o in enumerate(rec.outputs):
            if o in factors:
                rec.std[:, j] = rec.std[:, j] * factors[o].scale
        rec.notes["record_scale"] = {o: f.scale for o, f in factors.items()}
        if prior is not None:
            rec.notes["site_prior"] = _prior_note(rec)
        keys = self.space.keys(rec.designs)
        designs = [
            {
                "key": k,
                "params": {p: _plain(v) for p, v in row.items()},
                "predicted": None
                if np.isnan(rec.mean[i]).all()
                else {
                    o: [float(rec.mean[i, j]), float(rec.std[i, j])]
                    for j, o in enumerate(rec.outputs)
                },
                "acquisition": None if np.isnan(rec.acquisition[i]) else float(rec.acquisition[i]),
            }
            for i, (k, row) in enumerate(
                zip(keys, rec.designs[self.space.names].to_dict("records"), strict=True)
            )
        ]
        number = self.store.add_round(
            self.name,
            rec.recommender,
            designs,
            notes={
                "n": len(designs),
                "record_scale": {o: f.scale for o, f in factors.items()},
                "record_n": {o: f.n for o, f in factors.items()},
                **({} if prior is None else {"site_prior": rec.notes["site_prior"]}),
            },
            expect_version=expect_version,
        )
        model = rec.model
        # A surrogate outside the state format's allow-list is not stored: never a pickle.
        if model is not None and len(data) >= 2 and can_save(model):
            importance = permutation_importance(
                model, self.space, data[self.space.names], values, n_repeats=5, seed=seed
            )
            self.store.save_model(
                self.name,
                number,
                rec.recommender,
                dumps(model),
                {
                    "n_train": len(data),
                    "data_sha256": self._fingerprint(data),
                    "importance": importance["share"].to_dict(),
                },
                format=STATE_FORMAT,
            )
        rec.notes["round"] = number
        return rec

    def prediction_record(self, data: pd.DataFrame | None = None) -> list[dict[str, Any]]:
        """Every measured design that a round predicted: one entry per design and
        predicted output with ``round``, ``output``, ``mean``, ``std`` (the std as
        the recommender gave it, before that round's record factor), ``scale``
        (that factor, 1.0 for rounds stored before it existed), ``measured`` and
        ``yvar`` (the measurement's variance, NaN if unknown), in the output's units.

        An output named after an objective compares with its measured value; a
        target objective's ``<name>_score`` with its utility; a weighted
        ``score`` of several objectives is left out (it is standardised on the
        data of its day and cannot be recomputed).
        """
        import pandas as pd

        data = self.data() if data is None else data
        if len(data) == 0:
            return []
        rounds = self.store.rounds(self.name)
        scales = {
            int(r["number"]): (r["notes"] or {}).get("record_scale", {})
            for r in rounds.to_dict("records")
        }
        table = self.store.design_table(self.name)
        predicted = {
            int(d): (p, int(r))
            for d, p, r in zip(table["design_id"], table["predicted"], table["round"], strict=True)
            if isinstance(p, dict) and pd.notna(r)
        }
        measured_of: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for o in self.objectives:
            value = data[o.name].to_numpy(float)
            var = data[f"{o.name}_std"].to_numpy(float) ** 2
            measured_of[o.name] = (value, var)
            if o.direction == "target":
                # utility -|y - target|: its noise variance is the measurement's
                measured_of[f"{o.name}_score"] = (o.utility(value), var)
        out = []
        for i, d in enumerate(data["design_id"].to_numpy()):
            if int(d) not in predicted:
                continue
            pred, number = predicted[int(d)]
            for output, (mean, std) in pred.items():
                if output not in measured_of:
                    continue
                scale = float(scales.get(number, {}).get(output, 1.0))
                value, var = measured_of[output]
                out.append(
                    {
                        "round": number,
                        "output": output,
                        "mean": float(mean),
                        "std": float(std) / scale if scale > 0 else float("nan"),
                        "scale": scale,
                        "measured": float(value[i]),
                        "yvar": float(var[i]),
                    }
                )
        return out

    def record_scales(
        self, data: pd.DataFrame | None = None, *, window: int | None = RECORD_WINDOW
    ) -> dict[str, RecordScale]:
        """Per predicted output, the factor earlier rounds' measured picks ask for
        (:func:`~biofab.learn.calibration.record_scale` over
        :meth:`prediction_record`); empty with no record. ``window``: only the
        latest ``window`` rounds with measured picks (per output), None: every round
        pooled."""
        from biofab.learn.calibration import record_scale

        if window is not None and window < 1:
            raise InputError("the record window must be at least one round", found=window)
        by_output: dict[str, list[dict[str, Any]]] = {}
        for r in self.prediction_record(data):
            by_output.setdefault(r["output"], []).append(r)
        if window is not None:
            for o, rs in by_output.items():
                kept = sorted({r["round"] for r in rs})[-window:]
                by_output[o] = [r for r in rs if r["round"] in kept]
        return {
            o: record_scale(
                np.array([r["mean"] for r in rs]),
                np.array([r["std"] for r in rs]),
                np.array([r["measured"] for r in rs]),
                np.array([r["yvar"] for r in rs]),
            )
            for o, rs in by_output.items()
        }

    def record_calibration(self, data: pd.DataFrame | None = None) -> pd.DataFrame:
        """How each round's error bars did on its own measured picks.

        One row per round and predicted output: ``n`` measured picks,
        ``factor_applied`` (the record factor the round's std carried, 1.0 for
        none), ``coverage_68_raw`` (share of picks inside ``mean ± sqrt(std² +
        yvar)`` with the std before the factor) and ``coverage_68`` (with the
        std as reported); nominal 0.68. Empty before a predicted design is
        measured. :meth:`record_scales` gives the factor the next batch gets.
        ``data``: the campaign's measured table if already read (else read here).
        """
        import pandas as pd

        columns = ["round", "output", "n", "factor_applied", "coverage_68_raw", "coverage_68"]
        groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
        for r in self.prediction_record(data):
            groups.setdefault((r["round"], r["output"]), []).append(r)
        rows = []
        for (number, output), rs in sorted(groups.items()):
            err = np.abs(np.array([r["measured"] - r["mean"] for r in rs]))
            std = np.array([r["std"] for r in rs])
            var = np.nan_to_num(np.array([r["yvar"] for r in rs]))
            scale = rs[0]["scale"]
            rows.append(
                {
                    "round": number,
                    "output": output,
                    "n": len(rs),
                    "factor_applied": scale,
                    "coverage_68_raw": float(np.mean(err <= np.sqrt(std**2 + var))),
                    "coverage_68": float(np.mean(err <= np.sqrt((scale * std) ** 2 + var))),
                }
            )
        return pd.DataFrame(rows, columns=columns)

    def _to_objective_units(self, rec: Recommendation) -> None:
        """Predictions of utilities -> predictions of the measured quantities.

        Models learn utilities (higher is better); a person reads predicted
        yield or cost. A minimised objective's mean changes sign back; a
        target objective's utility (-|y - target|) and a weighted score of
        several objectives cannot be turned back and keep the name ``score``.
        """
        if rec.mean.shape[1] != len(self.objectives):
            rec.outputs = ["score"]
            return
        names = []
        for j, o in enumerate(self.objectives):
            if o.direction == "min":
                rec.mean[:, j] = -rec.mean[:, j]
            names.append(o.name if o.direction != "target" else f"{o.name}_score")
        rec.outputs = names

    def _pending(self, data: pd.DataFrame) -> pd.DataFrame:
        """Designs recommended earlier whose results have not arrived yet."""
        table = self.store.design_table(self.name)
        if len(table) == 0:
            return table.reindex(columns=self.space.names)
        measured = set(self.space.keys(data)) if len(data) else set()
        waiting = table[[k not in measured for k in table["key"]]]
        return waiting.reindex(columns=self.space.names).reset_index(drop=True)

    def ingest(
        self,
        source: str | Path | pd.DataFrame,
        *,
        filename: str | None = None,
        chunk_rows: int = CHUNK_ROWS,
        progress: bool = True,
        expect_version: int | None = None,
    ) -> IngestResult:
        """Add measurements from a results CSV (or a frame); all rows or none.

        See :mod:`biofab.campaign.results` for the table's columns. The import's
        identity is its content, not its name: the same measurements saved
        again under another file name add nothing (``duplicate_file``, with
        ``duplicate_of`` the first file's name).

        A file is streamed in chunks of ``chunk_rows`` rows, twice: the first
        pass validates every row and computes the content digest without
        touching the store; the second writes chunk by chunk inside one
        transaction (and re-checks the digest, so a file changed in between is
        rolled back). Memory stays bounded by the chunk, not the file. With
        ``progress``, a table of more than one chunk reports each chunk.
        ``expect_version``: write only if the campaign is still at this version
        (else ``StaleVersionError``, nothing written).
        """
        import pandas as pd

        if chunk_rows < 1:
            raise InputError("chunk size must be at least 1 row", found=chunk_rows)
        if isinstance(source, pd.DataFrame):
            frame = source.astype(object)
            name = filename or "frame"

            def chunks() -> Iterator[pd.DataFrame]:
                for start in range(0, len(frame), chunk_rows):
                    yield frame.iloc[start : start + chunk_rows]

        else:
            name = filename or str(source)

            def chunks() -> Iterator[pd.DataFrame]:
                return iter_table(source, chunk_rows)

        check = ResultsParser(self.space, self.objectives, name)
        only: list[dict[str, Any]] | None = None
        with _ChunkProgress(f"checking {name}", None, enabled=progress) as bar:
            for n_chunks, chunk in enumerate(chunks(), start=1):
                rows = check.parse(chunk)
                only = rows if n_chunks == 1 else None  # keep a one-chunk table for pass 2
                bar.advance(len(chunk))
        if check.n_rows == 0:
            raise InputError("no data rows", file=name, expected="at least one result")
        digest, n_rows = check.hexdigest(), check.n_rows
        if only is not None:
            return self.store.ingest(self.name, name, digest, only, expect_version=expect_version)
        del check  # its memory of every design is not needed again

        def written() -> Iterator[list[dict[str, Any]]]:
            # Pass 1 refused repeated designs; pass 2 only re-derives the rows.
            again = ResultsParser(self.space, self.objectives, name, check_repeats=False)
            with _ChunkProgress(f"ingesting {name}", n_rows, enabled=progress) as bar:
                for chunk in chunks():
                    yield again.parse(chunk)
                    bar.advance(len(chunk))
            if again.hexdigest() != digest:
                raise InputError(
                    "the file changed while it was ingested; nothing was written", file=name
                )

        return self.store.ingest_chunks(
            self.name, name, digest, written(), expect_version=expect_version
        )

    def run(
        self,
        testbed: Testbed,
        *,
        rounds: int,
        batch: int,
        seed: int = 0,
        progress: bool = True,
        candidates: pd.DataFrame | None = None,
        recommender: Recommender | None = None,
    ) -> pd.DataFrame:
        """Closed loop against a testbed: recommend, evaluate, ingest, ``rounds`` times.

        Returns :meth:`history`. ``candidates`` restricts choices to a pool
        (replayed data); by default a pool testbed's own pool is used. The loop
        is :class:`biofab.campaign.loop.LoopRunner`; a lab adapter in place of
        the testbed runs the same loop through build and plate-reader files.
        """
        from biofab.campaign.loop import LoopRunner

        if candidates is None and isinstance(testbed, PoolTestbed):
            candidates = testbed.pool()
        runner: LoopRunner[Recommender] = LoopRunner(
            TestbedExecutor(testbed), recommender=recommender, candidates=candidates
        )
        result = runner.run(
            self,
            batch=batch,
            rounds=rounds,
            seed=seed,
            progress=progress,
            label=f"campaign {self.name} round",
        )
        assert result.history is not None  # run() always ends by reading it
        return result.history

    # -- views -----------------------------------------------------------------
    def history(self) -> pd.DataFrame:
        """Per round: designs measured, best score in the round, best so far, and
        improvement of best-so-far over the first round's best (a ratio)."""
        import pandas as pd

        columns = ["round", "n", "best", "best_so_far", "improvement"]
        return pd.DataFrame.from_records(self._history(self.measured()), columns=columns)

    def _history(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not rows:
            return []
        return best_so_far([r["round"] for r in rows], self.score(rows))

    def best(self, k: int = 5) -> pd.DataFrame:
        """The ``k`` best measured designs by score."""
        data = self.data()
        if len(data) == 0:
            return data
        return data.assign(score=self.score(data)).nlargest(k, "score").reset_index(drop=True)

    def pareto(self) -> pd.DataFrame:
        """Measured designs on the Pareto front of the objectives."""
        from biofab.learn import pareto_mask

        data = self.data()
        if len(data) == 0:
            return data
        u, _ = self.utilities(data)
        return data[pareto_mask(u)].reset_index(drop=True)

    def explain(self, seed: int | None = 0) -> pd.DataFrame:
        """Per-parameter importance (permutation) of the model of the current data.

        The model is the latest stored snapshot when it was trained on exactly
        the measurements held now, otherwise the campaign's default surrogate
        fitted afresh on them (and not stored), so this works right after an
        ingest. Needs at least 2 measured designs. A snapshot pickled by an
        older biofab is never loaded: the model is refitted instead.
        """
        from biofab.learn import permutation_importance

        data = self.data()
        if len(data) < 2:
            raise NotEnoughDataError(
                f"explain needs at least 2 measured designs, campaign '{self.name}' has "
                f"{len(data)}; ingest results first"
            )
        model = self.current_model(data)
        multi = getattr(model, "n_outputs_", 1) > 1
        values = self.utilities(data)[0] if multi else self.score(data)
        return permutation_importance(model, self.space, data[self.space.names], values, seed=seed)

    def current_model(self, data: pd.DataFrame | None = None) -> Surrogate:
        """The surrogate of ``data`` (default: the current measurements).

        The latest stored snapshot when its metrics say it was trained on
        exactly these measurements (a content digest; ``n_train`` for rows
        written before the digest existed) and was saved as state (an older
        biofab's pickled snapshot is never loaded), else a fresh fit of the default
        surrogate: one GP over the utilities for several objectives, boosted
        trees for sequence or wide categorical spaces (as the default
        recommender chooses), a GP otherwise.
        """
        from biofab.learn import GPSurrogate

        data = self.data() if data is None else data
        snap = self.store.latest_model(self.name)
        fresh = snap is not None and self._trained_on(snap.metrics, data)
        if snap is not None and fresh and snap.format != LEGACY_PICKLE:
            what = f"model snapshot {snap.id} of campaign '{self.name}'"
            return load_snapshot(snap.format, snap.blob, what=what)
        X = self.space.encode(data[self.space.names])
        u, yvar = self.utilities(data)
        if len(self.objectives) > 1:
            return GPSurrogate(seed=0).fit(X, u, yvar)
        v = None if yvar is None else yvar[:, 0]
        return self._default_single_surrogate().fit(X, u[:, 0], v)

    def _default_single_surrogate(self) -> Surrogate:
        from biofab.core import Categorical
        from biofab.core import Sequence as SequenceParameter
        from biofab.learn import GPSurrogate, TreeEnsemble

        params = self.space.parameters.values()
        if any(isinstance(p, SequenceParameter) for p in params):
            return TreeEnsemble(seed=0)
        wide = any(isinstance(p, Categorical) for p in params) and self.space.width > 60
        return TreeEnsemble(seed=0) if wide else GPSurrogate(seed=0)

    def _trained_on(self, metrics: dict[str, Any], data: pd.DataFrame) -> bool:
        """Whether a snapshot with these metrics was trained on exactly ``data``."""
        if "data_sha256" in metrics:
            return bool(metrics["data_sha256"] == self._fingerprint(data))
        return bool(metrics.get("n_train") == len(data))

    def _fingerprint(self, data: pd.DataFrame) -> str:
        """SHA-256 of the measured designs and their values and stds (what a model learns)."""
        cols = [*self.objective_names, *(f"{o}_std" for o in self.objective_names)]
        digest = hashlib.sha256()
        digest.update("\n".join(self.space.keys(data) if len(data) else []).encode())
        digest.update(np.ascontiguousarray(data[cols].to_numpy(dtype=float)).tobytes())
        return digest.hexdigest()

    def calibration(self, seed: int = 0) -> pd.DataFrame:
        """Are the surrogates' error bars honest on this campaign's data?

        For the GP and the tree ensemble: fit on 75 % of the measured designs,
        report held-out RMSE and the coverage of the ±1σ and ±1.96σ intervals
        (nominal 68 % and 95 %) on the other 25 %. Then, over 5 folds, the
        out-of-fold coverage of the ±1σ interval as the model gives it
        (``oof_coverage_68_raw``) and after the recalibration the default
        recommender applies to its error bars (``oof_coverage_68``, the factor
        estimated on the other folds; ``std_scale``, the factor on all rows).
        """
        import pandas as pd

        from biofab.learn import (
            GPSurrogate,
            TreeEnsemble,
            calibrate_out_of_fold,
            calibration_report,
            out_of_fold,
        )

        data = self.data()
        if len(data) < 8:
            raise NotEnoughDataError("calibration needs at least 8 measured designs")
        X, y = self.space.encode(data[self.space.names]), self.score(data)
        _, yvar = self.utilities(data)
        v = None if yvar is None or len(self.objectives) > 1 else yvar[:, 0]
        rows = []
        factories: dict[str, Callable[[], Surrogate]] = {
            "GP": lambda: GPSurrogate(seed=seed),
            "tree ensemble": lambda: TreeEnsemble(seed=seed),
        }
        for name, make in factories.items():
            rep = calibration_report(make, X, y, v, seed=seed)
            oof = calibrate_out_of_fold(y, out_of_fold(make, X, y, v, seed=seed), v)
            rows.append(
                {
                    "surrogate": name,
                    **{k: rep.to_dict()[k] for k in _CALIBRATION_KEYS},
                    "oof_coverage_68_raw": oof.coverage_68_raw,
                    "oof_coverage_68": oof.coverage_68,
                    "std_scale": oof.std_scale,
                }
            )
        return pd.DataFrame(rows)

    def status(self, *, history: bool = False) -> dict[str, Any]:
        """A summary a person or a script can read; with ``history``, also the
        per-round best-so-far records of :meth:`history`.

        Plain Python over the store's records (no pandas, no model), so
        ``biofab campaign status`` starts fast.
        """
        counts = self.store.counts(self.name)
        rows = self.measured()
        best: dict[str, Any] | None = None
        if rows:
            top = rows[int(np.nanargmax(self.score(rows)))]
            best = {
                **{n: _plain(top[n]) for n in self.space.names},
                **{o: float(top[o]) for o in self.objective_names},
            }
        out = {
            "campaign": self.name,
            "objectives": [str(o) for o in self.objectives],
            "parameters": self.space.names,
            "rounds": counts["rounds"],
            "designs": counts["designs"],
            "measured": len(rows),
            "pending": max(counts["designs"] - len(rows), 0),
            "best": best,
        }
        if history:
            out["history"] = self._history(rows)
        return out


class _ChunkProgress:
    """Progress of a streamed table, shown only once it has a second chunk.

    A one-chunk table (every plate, every testbed round) stays silent; a large
    file reports each chunk (``label rows/total``) from its second chunk on.
    """

    def __init__(self, label: str, total: int | None, *, enabled: bool) -> None:
        self.label, self.total, self.enabled = label, total, enabled
        self._stack = ExitStack()
        self._steps: Steps | None = None
        self._pending = 0
        self._chunks = 0

    def __enter__(self) -> _ChunkProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def advance(self, rows: int) -> None:
        self._chunks += 1
        if not self.enabled:
            return
        if self._steps is None:
            if self._chunks == 1:
                self._pending = rows
                return
            self._steps = self._stack.enter_context(progress_reporter(self.label, self.total))
            self._steps.advance(self._pending)
        self._steps.advance(rows)


_CALIBRATION_KEYS = ("n_train", "n_test", "rmse", "mean_std", "coverage_68", "coverage_95")


@functools.lru_cache(maxsize=64)
def _space(text: str) -> Space:
    """The space of a campaign's stored YAML, parsed once per text: a service answering
    many requests about one campaign would otherwise spend most of each in the YAML
    parser. Callers share the object: a Space is not changed after it is made."""
    return Space.from_yaml(text)


def _store(store: Store | str | None) -> Store:
    return store if isinstance(store, Store) else Store(store)


def _column(data: pd.DataFrame | list[dict[str, Any]], name: str) -> np.ndarray:
    if isinstance(data, list):
        return column(data, name)
    return data[name].to_numpy(float)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _with_site_prior(
    recommender: Recommender, prior: Mapping[str, Mapping[str, float]]
) -> Recommender:
    """``recommender`` with ``prior`` as the epistatic GP's prior mean (a copy); the
    space-filling start unchanged (it fits no model)."""
    import copy

    from biofab.learn import SpaceFilling
    from biofab.learn.combinatorial import VariantRecommender

    if isinstance(recommender, SpaceFilling):
        return recommender
    if not isinstance(recommender, VariantRecommender) or recommender.surrogate != "epistatic":
        raise InputError(
            "a site prior works only with the variant recommender",
            column="recommender",
            expected="variants (or auto on a one-objective site library)",
            found=type(recommender).__name__,
        )
    out = copy.copy(recommender)
    out.prior = {site: dict(row) for site, row in prior.items()}
    return out


def _prior_note(rec: Recommendation) -> dict[str, Any]:
    """What the round did with a site prior: its fitted weight, or why it was not used."""
    weight = getattr(rec.model, "prior_scale_", None)
    if weight is None:
        return {"used": False, "why": "space-filling start: no model yet"}
    return {"used": True, "weight": float(weight)}
