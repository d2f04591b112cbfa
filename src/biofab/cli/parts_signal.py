"""``biofab parts signal-peptides | secretion-fit | secretion-predict``: SPs for a secreted protein.

``signal-peptides PROTEOME.faa --mature MATURE`` finds the natural Sec signal
peptides of a proteome (n/h/c-region rules), generates rule-passing variants
by recombining and mutating them, ranks all of them for fusion to the mature
protein (rule score, or a trained ``--kind signal_peptide`` model's prediction
and std) and writes the top ``--n`` as CSV. ``secretion-fit DATA.csv --out
model.json`` fits the SP x protein activity matrix model
(:class:`biofab.parts.secretion.SecretionMatrix`); ``secretion-predict`` ranks
the known SPs for one protein with it. Bad input: one line, exit code 2, no
output file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from biofab.core.errors import InputError

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _echo(text: str) -> None:
    from rich.console import Console

    Console().print(text, highlight=False)


def _protein_argument(text: str, option: str) -> str:
    """A protein given inline or as a FASTA/text file (first record), checked."""
    from biofab.parts.sequences import check_sequence, parse_fasta, read_text_file

    value = text.strip()
    path = Path(value)
    file = None
    if value and len(value) < 4096 and (path.is_file() or "/" in value or "." in value):
        raw = read_text_file(path, "a protein FASTA or sequence")
        file = str(path)
        value = parse_fasta(raw, file=file)[1][0] if raw.lstrip().startswith(">") else raw
        value = "".join(value.split())
    return check_sequence(value, "protein", min_length=3, file=file, column=option)


def register(app: typer.Typer) -> None:
    """Add the signal-peptide and secretion commands to the ``biofab parts`` group."""

    @app.command("signal-peptides")
    def signal_peptides(
        proteome: Annotated[Path, typer.Argument(help="Protein FASTA to mine for natural SPs.")],
        mature: Annotated[
            str, typer.Option("--mature", help="Mature protein (no SP): FASTA file or sequence.")
        ],
        out: Annotated[Path, typer.Option("--out", help="Ranked candidates CSV to write.")],
        model: Annotated[
            Path | None,
            typer.Option("--model", help="Model directory from `train --kind signal_peptide`."),
        ] = None,
        n: Annotated[int, typer.Option("--n", min=1, help="Candidates to write (top N).")] = 20,
        generate: Annotated[
            int, typer.Option("--generate", min=0, help="Generated variants to add.")
        ] = 50,
        max_len: Annotated[
            int, typer.Option("--max-len", min=15, max=60, help="Longest SP searched, aa.")
        ] = 40,
        seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
        json_out: JsonOption = False,
    ) -> None:
        """Rank natural and generated signal peptides of PROTEOME for the --mature protein."""
        import pandas as pd

        from biofab.core.atomic import atomic_path
        from biofab.parts.signal_peptide import (
            extract_candidates,
            generate_candidates,
            rank_candidates,
        )

        mature_seq = _protein_argument(mature, "--mature")
        natural = extract_candidates(proteome, max_len=max_len)
        if len(natural) == 0:
            raise InputError(
                "no protein in the proteome starts with a rule-passing signal peptide",
                file=str(proteome),
                expected="at least one Sec signal peptide",
                found="0",
            )
        frames = [natural]
        if generate:
            frames.append(generate_candidates(natural, generate, seed=seed))
        pool = pd.concat(frames, ignore_index=True)
        ranked = rank_candidates(pool, mature_seq, model=model).head(n)
        with atomic_path(out, suffix=".csv") as tmp:
            ranked.to_csv(tmp, index=False)
        top = ranked.iloc[0]
        summary = {
            "out": str(out),
            "natural": len(natural),
            "generated": len(frames[1]) if generate else 0,
            "written": len(ranked),
            "model": str(model) if model is not None else None,
            "best": {"id": top["id"], "sequence": top["sequence"], "origin": top["origin"]},
        }
        if json_out:
            _print_json(summary)
        else:
            _echo(
                f"{len(natural)} natural SPs passed the n/h/c rules, "
                f"{summary['generated']} generated; best {top['id']} ({top['origin']}) "
                f"{top['sequence']}; wrote {len(ranked)} to {out}"
            )

    @app.command("secretion-fit")
    def secretion_fit(
        data: Annotated[Path, typer.Argument(help="CSV of SP x protein activity readings.")],
        out: Annotated[Path, typer.Option("--out", help="Model JSON to write.")],
        wu2020: Annotated[
            bool,
            typer.Option("--wu2020", help="DATA is the Wu 2020 table (verified rows, z-scored)."),
        ] = False,
        sp_column: Annotated[str, typer.Option("--sp-column")] = "sp_id",
        protein_column: Annotated[str, typer.Option("--protein-column")] = "protein_id",
        activity_column: Annotated[str, typer.Option("--activity-column")] = "activity",
        rank: Annotated[int, typer.Option("--rank", min=0, help="Interaction factors.")] = 2,
        n_boot: Annotated[int, typer.Option("--n-boot", min=0, help="Bootstrap members.")] = 20,
        seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
        json_out: JsonOption = False,
    ) -> None:
        """Fit the SP x protein secretion matrix model on DATA and write it as JSON."""
        from biofab.core.atomic import write_atomic
        from biofab.parts.secretion import SecretionMatrix, wu2020_activity

        if wu2020:
            from biofab.parts.datasets import load_wu2020

            long = wu2020_activity(load_wu2020(data))
        else:
            long = _read_table(data).rename(
                columns={sp_column: "sp_id", protein_column: "protein_id",
                         activity_column: "activity"}
            )  # fmt: skip
            for col, name in (
                ("sp_id", sp_column),
                ("protein_id", protein_column),
                ("activity", activity_column),
            ):
                if col not in long.columns:
                    raise InputError(
                        "missing column",
                        file=str(data),
                        column=name,
                        expected=f"one of {', '.join(map(str, long.columns))}",
                    )
        est = SecretionMatrix(rank=rank, n_boot=n_boot, seed=seed).fit(long)
        write_atomic(out, json.dumps(est.to_dict()) + "\n")
        summary = {
            "out": str(out),
            "signal_peptides": len(est.sp_ids_),
            "proteins": len(est.protein_ids_),
            "cells": est.n_cells_,
            "rank": rank,
            "n_boot": n_boot,
        }
        if json_out:
            _print_json(summary)
        else:
            _echo(
                f"fitted SecretionMatrix (rank {rank}, {n_boot} bootstrap members) on "
                f"{est.n_cells_} cells: {len(est.sp_ids_)} SPs x {len(est.protein_ids_)} "
                f"proteins; wrote {out}"
            )

    @app.command("secretion-predict")
    def secretion_predict(
        model: Annotated[Path, typer.Option("--model", help="Model JSON from secretion-fit.")],
        protein: Annotated[str, typer.Option("--protein", help="Protein id to rank SPs for.")],
        out: Annotated[Path, typer.Option("--out", help="Ranked SP CSV to write.")],
        json_out: JsonOption = False,
    ) -> None:
        """Rank every known SP for --protein: predicted activity, std and measured value."""
        from biofab.core.atomic import atomic_path
        from biofab.parts.secretion import SecretionMatrix
        from biofab.parts.sequences import read_text_file

        text = read_text_file(model, "a secretion model JSON")
        try:
            state = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError("unreadable model JSON", file=str(model), found=err.msg) from None
        est = SecretionMatrix.from_dict(state)
        ranked = est.rank_signal_peptides(protein)
        with atomic_path(out, suffix=".csv") as tmp:
            ranked.to_csv(tmp, index=False)
        best = ranked.iloc[0]
        if json_out:
            _print_json(
                {"out": str(out), "protein": protein, "n": len(ranked),
                 "best": {"sp_id": best["sp_id"], "prediction": float(best["prediction"]),
                          "std": float(best["std"])}}
            )  # fmt: skip
        else:
            _echo(
                f"best SP for {protein}: {best['sp_id']} (predicted {best['prediction']:.3g} "
                f"± {best['std']:.2g}); wrote {len(ranked)} to {out}"
            )


def _read_table(path: Path) -> Any:
    import io

    import pandas as pd

    from biofab.parts.sequences import read_text_file

    text = read_text_file(path, "a CSV table")
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        msg = str(err).splitlines()[0] if str(err) else "parse error"
        raise InputError("cannot parse as a table", file=str(path), found=msg) from None
    if len(frame) == 0:
        raise InputError("empty file", file=str(path), expected="at least one data row", found="0")
    return frame
