"""``biofab parts signal-peptides | secretion-fit | secretion-predict``: SPs for a secreted protein.

Argument parsing and printing only; the work is :mod:`biofab.parts.workflows`.
``signal-peptides PROTEOME.faa --mature MATURE`` ranks natural and generated Sec signal
peptides for fusion to the mature protein (rule score, or a trained ``--kind
signal_peptide`` model's prediction and std) and writes the top ``--n`` as CSV.
``secretion-fit DATA.csv --out model.json`` fits the SP x protein activity matrix model, or,
with sequences, the sequence model; ``secretion-predict`` ranks SPs for one protein with it
(a sequence model also ranks never-measured SPs, and for a new protein). Bad input: one line,
exit code 2, no output file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _echo(text: str) -> None:
    from biofab.cli.console import console

    console().print(text, highlight=False)


def _done(result: Any, json_out: bool) -> bool:
    if json_out:
        sys.stdout.write(result.to_json())
    return json_out


def _rank_note(summary: dict[str, Any]) -> str:
    rho = summary["calibration"].get("spearman_abs_error_std")
    return "" if rho is None else f", Spearman(|error|, std) {rho:.2f}"


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
        from biofab.parts import workflows as wf

        r = wf.signal_peptides(
            wf.SignalPeptidesRequest(proteome, mature, out, model, n, generate, max_len, seed)
        )
        if _done(r, json_out):
            return
        top = r.ranked.iloc[0]
        _echo(
            f"{r.natural} natural SPs passed the n/h/c rules, {r.generated} generated; best "
            f"{top['id']} ({top['origin']}) {top['sequence']}; wrote {len(r.ranked)} to {out}"
        )

    @app.command("secretion-fit")
    def secretion_fit(
        data: Annotated[Path, typer.Argument(help="CSV of SP x protein activity readings.")],
        out: Annotated[Path, typer.Option("--out", help="Model JSON to write.")],
        wu2020: Annotated[
            bool,
            typer.Option("--wu2020", help="DATA is the Wu 2020 table (verified rows, z-scored)."),
        ] = False,
        sequences: Annotated[
            Path | None,
            typer.Option("--sequences", help="With --wu2020: SP table (sp_id, sp_sequence)."),
        ] = None,
        proteins: Annotated[
            Path | None,
            typer.Option(
                "--proteins", help="With --wu2020: protein table (protein_id, mature_sequence)."
            ),
        ] = None,
        estimator: Annotated[
            str,
            typer.Option(
                "--estimator",
                help="matrix (SPs by id), ridge or boost (from sequences); auto = ridge when "
                "sequences are given (--sequences/--proteins, or sequence and "
                "mature_sequence columns), else matrix.",
            ),
        ] = "auto",
        enzyme: Annotated[
            str,
            typer.Option("--enzyme", help="Sequence models: enzyme groups family, id or none."),
        ] = "family",
        sp_column: Annotated[str, typer.Option("--sp-column")] = "sp_id",
        protein_column: Annotated[str, typer.Option("--protein-column")] = "protein_id",
        activity_column: Annotated[str, typer.Option("--activity-column")] = "activity",
        rank: Annotated[
            int, typer.Option("--rank", min=0, help="Matrix: interaction factors.")
        ] = 2,
        n_boot: Annotated[int, typer.Option("--n-boot", min=0, help="Bootstrap members.")] = 20,
        seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
        json_out: JsonOption = False,
    ) -> None:
        """Fit a secretion model (SP x protein matrix, or from sequences) and write it as JSON."""
        from biofab.parts import workflows as wf

        r = wf.secretion_fit(
            wf.SecretionFitRequest(
                data, out, wu2020, sp_column, protein_column, activity_column, rank, n_boot,
                seed, sequences, proteins, estimator, enzyme,
            )
        )  # fmt: skip
        if _done(r, json_out):
            return
        s = r.to_dict()
        what = (
            f"SecretionMatrix (rank {rank}, {n_boot} bootstrap members)"
            if s["estimator"] == "matrix"
            else f"SequenceSecretionModel ({s['estimator']}, enzyme {s['enzyme']}, "
            f"{s['members']} members; held-out ±1 std coverage "
            f"{s['calibration']['coverage']:.0%} after recalibration{_rank_note(s)})"
        )
        _echo(
            f"fitted {what} on {s['cells']} cells: {s['signal_peptides']} SPs x "
            f"{s['proteins']} proteins; wrote {out}"
        )

    @app.command("secretion-predict")
    def secretion_predict(
        model: Annotated[Path, typer.Option("--model", help="Model JSON from secretion-fit.")],
        protein: Annotated[
            str, typer.Option("--protein", help="Protein id (a training one, or a new name).")
        ],
        out: Annotated[Path, typer.Option("--out", help="Ranked SP CSV to write.")],
        candidates: Annotated[
            Path | None,
            typer.Option(
                "--candidates",
                help="Sequence models: SPs to rank (FASTA, or CSV with sequence[, sp_id]); "
                "default the training SPs.",
            ),
        ] = None,
        mature: Annotated[
            str | None,
            typer.Option("--mature", help="New protein: mature sequence (inline or FASTA)."),
        ] = None,
        family: Annotated[
            str | None,
            typer.Option("--family", help="New protein: enzyme family (e.g. amylase)."),
        ] = None,
        json_out: JsonOption = False,
    ) -> None:
        """Rank SPs for --protein: predicted activity and std, best first."""
        from biofab.parts import workflows as wf

        r = wf.secretion_predict(
            wf.SecretionPredictRequest(model, protein, out, candidates, mature, family)
        )
        if _done(r, json_out):
            return
        best = r.ranked.iloc[0]
        _echo(
            f"best SP for {protein}: {best['sp_id']} (predicted {best['prediction']:.3g} "
            f"± {best['std']:.2g}); wrote {len(r.ranked)} to {out}"
        )
        for note in r.notes:
            _echo(f"note: {note}")
