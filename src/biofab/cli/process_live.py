"""``biofab process twin``: the live twin on an OPC UA server, an HTTP listener or a replay.

Argument parsing and printing only: the work is
:func:`biofab.process.live.workflow.run_twin`. Registered on the ``process`` group through
the process pillar's ``cli_extensions``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``twin`` to the ``process`` command group."""

    @app.command("twin")
    def twin(
        scenario: Annotated[
            Path, typer.Option("--scenario", help="Scenario YAML: twin, initial state, recipe.")
        ],
        source: Annotated[
            str | None,
            typer.Option("--source", help="OPC UA server, opc.tcp://HOST:PORT/PATH (with --map)."),
        ] = None,
        node_map: Annotated[
            Path | None, typer.Option("--map", help="Node map YAML of the OPC UA server.")
        ] = None,
        replay: Annotated[
            Path | None, typer.Option("--replay", help="Run CSV to replay (long or wide).")
        ] = None,
        mapping: Annotated[
            Path | None, typer.Option("--mapping", help="Column-mapping YAML of the replay file.")
        ] = None,
        batch: Annotated[
            str | None,
            typer.Option("--batch", help="Which batch of a replayed multi-batch file."),
        ] = None,
        speed: Annotated[
            float, typer.Option("--speed", help="Replay speed, x real time (0: no waiting).")
        ] = 60.0,
        listen: Annotated[
            str | None,
            typer.Option("--listen", help="Serve the HTTP/WebSocket endpoint on HOST:PORT."),
        ] = None,
        filter: Annotated[str, typer.Option("--filter", help="ekf | ukf.")] = "ekf",
        step: Annotated[float, typer.Option("--step", help="Estimator step, h.")] = 0.25,
        window: Annotated[
            float | None, typer.Option("--window", help="Reorder window, h (default: one step).")
        ] = None,
        db: Annotated[
            str | None, typer.Option("--db", help="Store URL (default $BIOFAB_DB).")
        ] = None,
        run: Annotated[
            str | None,
            typer.Option(
                "--run",
                help="Run name in the store; a run it holds is resumed (default: a new run, "
                "its name said at start).",
            ),
        ] = None,
        until: Annotated[
            float | None, typer.Option("--until", help="Stop after this process time, h.")
        ] = None,
        volume_max: Annotated[
            float | None, typer.Option("--volume-max", help="Largest believable volume, L.")
        ] = None,
        max_retries: Annotated[
            int | None,
            typer.Option(
                "--max-retries",
                help="OPC UA: failed connects in a row before giving up (default: never).",
            ),
        ] = None,
        time_max: Annotated[
            float | None,
            typer.Option(
                "--time-max",
                help="Latest believable reading time, h (default 10 × the scenario's t_end).",
            ),
        ] = None,
        out: Annotated[Path | None, typer.Option("--out", help="Estimates CSV.")] = None,
        report: Annotated[
            Path | None,
            typer.Option(
                "--report",
                help="HTML report (trends with ±2σ bands, control charts, alarms), kept "
                "current while the run goes on.",
            ),
        ] = None,
        report_every: Annotated[
            float, typer.Option("--report-every", help="Rewrite the report every so many s.")
        ] = 5.0,
        monitor: Annotated[
            Path | None,
            typer.Option(
                "--monitor",
                help="Good batches (CSV or folder; columns: batch, time_h, twin states) to "
                "monitor the estimates against: T², SPE and alarms kept in the store.",
            ),
        ] = None,
        monitor_variables: Annotated[
            str | None,
            typer.Option("--monitor-variables", help="Comma-separated monitored states."),
        ] = None,
        alpha: Annotated[float, typer.Option("--alpha", help="Control-limit level.")] = 0.99,
        run_length: Annotated[
            int, typer.Option("--run-length", help="Consecutive points beyond a limit = alarm.")
        ] = 3,
        json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Run the live twin: validate and store every reading, estimate the states (±σ)
        each step with the EKF/UKF, print one progress line per step, write a report."""
        from biofab.process.live.workflow import TwinRequest, run_twin

        request = TwinRequest(
            scenario=scenario,
            source=source,
            node_map=node_map,
            replay=replay,
            mapping=mapping,
            batch=batch,
            speed=speed,
            listen=listen,
            filter=filter,
            step_h=step,
            window_h=window,
            db=db,
            run=run,
            volume_max=volume_max,
            time_max_h=time_max,
            max_retries=max_retries,
            until_h=until,
            out=out,
            report=report,
            report_every_s=report_every,
            monitor=monitor,
            monitor_variables=None
            if monitor_variables is None
            else tuple(v.strip() for v in monitor_variables.split(",") if v.strip()),
            alpha=alpha,
            run_length=run_length,
            progress=not json_out,
            command="biofab process " + " ".join(sys.argv[2:]),
        )
        result = run_twin(request)
        if json_out:
            typer.echo(result.to_json())
        else:
            _print_result(result)
        if result.interrupted:  # the shell's code for a run ended by a signal: 128 + its number
            raise typer.Exit(143 if result.stopped_by == "SIGTERM" else 130)


def _print_result(result: object) -> None:
    """The run's counts, final estimates ± σ, alarms and files."""
    from biofab.cli.console import console
    from biofab.process.live.workflow import TwinResult

    assert isinstance(result, TwinResult)
    out_console = console()
    if result.interrupted:
        out_console.print(
            f"stopped by {'SIGTERM' if result.stopped_by == 'SIGTERM' else 'Ctrl-C'}: every "
            "reading received is stored; the estimates and the "
            "report cover the run up to the last reading",
            highlight=False,
        )
    stats = result.stats
    resumed = f" ({stats.resumed} resumed from the store)" if stats.resumed else ""
    out_console.print(
        f"run [bold]{result.run}[/] from {result.source}: {stats.received} readings{resumed}, "
        f"{stats.accepted} accepted, {stats.late} late, {stats.duplicate} duplicate, "
        f"{stats.rejected} rejected; {stats.steps} estimator steps",
        highlight=False,
    )
    if stats.rejected:
        out_console.print(f"last rejection: {stats.last_rejection}", highlight=False)
    final = result.to_dict()["final"]
    for key, value in final.items():
        if key not in ("time_h", "readings") and not key.endswith("_std"):
            out_console.print(
                f"  {key:<6}{value:.4g} ± {final.get(key + '_std', 0.0):.2g}", highlight=False
            )
    for alarm in result.alarms:
        state = "active" if alarm.active else f"cleared at {alarm.cleared_h:.2f} h"
        out_console.print(
            f"alarm {alarm.alarm_id} ({alarm.severity}) raised at {alarm.raised_h:.2f} h, "
            f"{state}: {alarm.message}",
            highlight=False,
        )
    for path in result.files:
        out_console.print(f"wrote {path}", highlight=False)
