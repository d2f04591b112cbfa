"""``biofab process federate``: train the hybrid's networks across sites with Flower.

Argument parsing and printing only; the work is
:func:`biofab.process.federated_workflows.federate`. ``SITES`` is a folder with one batch
CSV per site (the file name is the site), or ``--simulate N`` makes N built-in simulated
sites. Prints the held-out error of the local, federated and pooled models per site and
their medians; ``--report`` writes the HTML page, ``--out`` the result JSON. Bad input:
one line, exit code 2, nothing written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``federate`` to the ``biofab process`` group."""

    @app.command("federate")
    def federate(
        sites: Annotated[
            Path | None,
            typer.Argument(help="Folder of per-site batch CSVs (one file per site)."),
        ] = None,
        simulate: Annotated[
            int | None,
            typer.Option("--simulate", help="Use N built-in simulated sites instead of SITES."),
        ] = None,
        hours: Annotated[
            float, typer.Option("--hours", help="Length of each simulated batch, h.")
        ] = 16.0,
        mapping: Annotated[
            Path | None, typer.Option("--mapping", help="Column-mapping YAML of the CSVs.")
        ] = None,
        rounds: Annotated[int, typer.Option("--rounds", min=1, help="Federated rounds.")] = 10,
        local_epochs: Annotated[
            int, typer.Option("--local-epochs", min=1, help="Adam steps per site per round.")
        ] = 10,
        lr: Annotated[float, typer.Option("--lr", help="Peak learning rate.")] = 0.05,
        strategy: Annotated[str, typer.Option("--strategy", help="fedavg or fedprox.")] = "fedavg",
        proximal_mu: Annotated[
            float, typer.Option("--proximal-mu", help="FedProx proximal weight.")
        ] = 0.01,
        test: Annotated[int, typer.Option("--test", help="Held-out batches per site.")] = 1,
        validation: Annotated[
            int, typer.Option("--validation", help="Validation batches per site.")
        ] = 1,
        ensemble: Annotated[int, typer.Option("--ensemble", help="Ensemble members.")] = 3,
        seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
        out: Annotated[Path | None, typer.Option("--out", help="Result JSON to write.")] = None,
        report: Annotated[
            Path | None, typer.Option("--report", help="HTML report to write.")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Federated vs local vs pooled training of the hybrid's networks on held-out batches."""
        from biofab.process.federated_workflows import FederateRequest
        from biofab.process.federated_workflows import federate as run

        command = "biofab process " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else ""
        r = run(
            FederateRequest(
                sites=sites,
                simulate=simulate,
                hours=hours,
                mapping=mapping,
                rounds=rounds,
                local_epochs=local_epochs,
                lr=lr,
                strategy=strategy,
                proximal_mu=proximal_mu,
                test=test,
                validation=validation,
                ensemble=ensemble,
                seed=seed,
                out=out,
                report=report,
                command=command,
                verbose=not json_out,
            )
        )
        if json_out:
            sys.stdout.write(r.to_json())
            return
        from rich.table import Table

        from biofab.cli.console import console

        t = Table(title="held-out nRMSE (X, S, A)", caption=r.target)
        for c in ("site", "local", "federated", "pooled"):
            t.add_column(c, justify="right")
        for row in r.to_frame().itertuples(index=False):
            t.add_row(str(row[0]), *[f"{v:.4g}" for v in row[1:]])
        screen = console()
        screen.print(t)
        s = r.summary
        screen.print(
            f"local {s['local']:.4g}, federated {s['federated']:.4g}, pooled {s['pooled']:.4g} "
            f"(federated/local {s['federated_over_local']:.3g}, federated/pooled "
            f"{s['federated_over_pooled']:.3g}); {r.traffic['messages']} messages, "
            f"{r.traffic['bytes_up']:,} bytes up (network weights only)",
            highlight=False,
        )
        for line in r.rejected:
            screen.print(f"left out: {line}", highlight=False)
        for f in r.files:
            screen.print(f"wrote {f}", highlight=False)
