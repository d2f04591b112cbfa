"""``biofab process monitor`` and ``biofab process alarms``: batch monitoring and alarms.

Argument parsing and printing only: the work is :mod:`biofab.process.monitor_workflows`.
Registered on the ``process`` group through the pillar's ``cli_extensions``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
DbOption = Annotated[
    str | None, typer.Option("--db", help="Store URL that keeps the alarms (audit log).")
]
WhoOption = Annotated[str | None, typer.Option("--who", help="User recorded with the alarms.")]
RuleOption = Annotated[list[str] | None, typer.Option(help="VAR=VALUE[:severity], repeatable.")]


def _echo(text: str) -> None:
    from biofab.cli.console import console

    console().print(text, highlight=False)


def _alarm_table(frame: object) -> None:
    import pandas as pd
    from rich.table import Table

    from biofab.cli.console import console

    assert isinstance(frame, pd.DataFrame)

    def text(v: object, form: str = "") -> str:
        return "" if v is None or v != v else format(v, form)

    # narrow columns, the message last: on an 80-column terminal it keeps some room
    t = Table(title="alarms")
    # the id is what --ack needs, typed back: never cut short or wrapped
    width = max([8, *(len(str(v)) for v in frame["alarm_id"])])
    t.add_column("alarm id", no_wrap=True, min_width=width)
    t.add_column("severity", no_wrap=True)
    t.add_column("hours", no_wrap=True)
    t.add_column("ack by", no_wrap=True)
    t.add_column("message", ratio=1)
    for row in frame.itertuples(index=False):
        cleared = text(row.cleared_h, ".4g") or "active"
        t.add_row(
            str(row.alarm_id),
            str(row.severity),
            f"{text(row.raised_h, '.4g')}-{cleared}",
            text(row.acknowledged_by),
            str(row.message),
        )
    console().print(t)


def _summary(r: object) -> None:
    from biofab.process.alarms import to_frame
    from biofab.process.monitor_workflows import MonitorResult

    assert isinstance(r, MonitorResult)
    s = r.monitor.summary()
    _echo(
        f"model: {s['batches']} good batches, {len(s['variables'])} variables "
        f"({', '.join(s['variables'])}), "
        f"{s['n_components']} components, align by {s['align']}"
    )
    for entry in r.to_dict()["batches"]:
        when = entry["first_alarm_h"]
        verdict = (
            "no alarm"
            if when is None
            else f"[bold red]alarm[/] at {when:.2f} h ({', '.join(entry['drivers'])})"
        )
        span = f"{entry['points']} points to {entry['last_time_h']:.2f} h"
        line = f"{entry['batch']}: {span}, {verdict}"
        for name, q in entry.get("quality", {}).items():
            line += f"; {name} → {q['predicted']:.4g} [{q['low']:.4g}, {q['high']:.4g}]"
        _echo(line)
    if r.alarms:
        _alarm_table(to_frame(r.alarms))
    for f in r.files:
        _echo(f"wrote {f}")


def register(app: typer.Typer) -> None:
    """Add ``monitor`` and ``alarms`` to the ``process`` app."""

    @app.command("monitor")
    def monitor_command(
        good: Annotated[
            Path, typer.Argument(help="Good batches: CSV (batch, time_h, VAR...) or a folder.")
        ],
        new: Annotated[Path, typer.Argument(help="Batch(es) to score: CSV or a folder.")],
        quality: Annotated[
            Path | None,
            typer.Option("--quality", help="End-of-batch quality of the good batches (CSV)."),
        ] = None,
        align: Annotated[str, typer.Option("--align", help="time | maturity | dtw")] = "time",
        maturity: Annotated[
            str | None, typer.Option("--maturity", help="Maturity variable for --align maturity.")
        ] = None,
        components: Annotated[
            int | None,
            typer.Option("--components", help="MPCA components (default: cross-validated)."),
        ] = None,
        alpha: Annotated[float, typer.Option("--alpha", help="Control-limit level.")] = 0.99,
        run_length: Annotated[
            int, typer.Option("--run-length", help="Consecutive points beyond a limit = alarm.")
        ] = 3,
        batch: Annotated[
            str | None, typer.Option("--batch", help="Score only this batch of NEW.")
        ] = None,
        variables: Annotated[
            str | None, typer.Option("--variables", help="Comma-separated monitored columns.")
        ] = None,
        high: RuleOption = None,
        low: RuleOption = None,
        max_rate: RuleOption = None,
        db: DbOption = None,
        who: WhoOption = None,
        out: Annotated[Path | None, typer.Option("--out", help="Scores CSV to write.")] = None,
        report: Annotated[
            Path | None, typer.Option("--report", help="HTML report to write (self-contained).")
        ] = None,
        watch: Annotated[
            float | None,
            typer.Option("--watch", help="Score NEW again every SECONDS (a live batch)."),
        ] = None,
        polls: Annotated[
            int | None, typer.Option("--polls", help="With --watch: stop after N polls.")
        ] = None,
        json_out: JsonOption = False,
    ) -> None:
        """Fit a batch monitor on GOOD batches and score NEW: T², SPE, alarms, quality.

        With --watch, NEW is read and scored again every SECONDS (a file a logger appends
        to); the report reloads itself and only new alarms are recorded."""
        from biofab.process import monitor_workflows as wf

        rules = tuple(
            wf.parse_rule(text, kind)
            for kind, texts in (("high", high), ("low", low), ("max-rate", max_rate))
            for text in texts or []
        )
        names = (
            None
            if variables is None
            else tuple(v.strip() for v in variables.split(",") if v.strip())
        )
        command = "biofab process " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else ""
        request = wf.MonitorRequest(
            good=good,
            new=new,
            quality=quality,
            align=align,
            maturity=maturity,
            n_components=components,
            alpha=alpha,
            run_length=run_length,
            batch=batch,
            variables=names,
            rules=rules,
            db=db,
            who=who,
            out=out,
            report=report,
            command=command,
            watch_s=watch,
            polls=polls,
        )

        def on_poll(poll: int, result: object, error: str | None) -> None:
            if json_out or watch is None:
                return
            if error is not None:
                _echo(f"poll {poll}: skipped ({error})")
            else:
                _echo(f"[dim]poll {poll}[/]")
                _summary(result)

        try:
            r = wf.monitor(request, on_poll)
        except KeyboardInterrupt:
            _echo("stopped")
            return
        if json_out:
            sys.stdout.write(r.to_json())
            return
        if watch is None:
            _summary(r)

    @app.command("alarms")
    def alarms_command(
        db: Annotated[str, typer.Option("--db", help="Store URL holding the alarms.")],
        batch: Annotated[str | None, typer.Option("--batch", help="Only this batch.")] = None,
        ack: Annotated[
            str | None, typer.Option("--ack", help="Acknowledge this alarm id (batch/rule/n).")
        ] = None,
        note: Annotated[
            str, typer.Option("--note", help="Note kept with the acknowledgement.")
        ] = "",
        who: WhoOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """List the alarms a store holds; --ack acknowledges one (who, when, note)."""
        from biofab.process import monitor_workflows as wf

        r = wf.alarms(wf.AlarmsRequest(db, batch, ack, note, who))
        if json_out:
            sys.stdout.write(r.to_json())
            return
        if r.acknowledged is not None:
            a = r.acknowledged
            _echo(f"acknowledged {a.alarm_id} by {a.acknowledged_by} at {a.acknowledged_at}")
        if r.alarms:
            _alarm_table(r.to_frame())
        else:
            _echo("no alarms")
