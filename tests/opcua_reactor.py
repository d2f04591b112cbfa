"""A real asyncua server publishing a simulated fed-batch run, for the live-twin tests.

Each node carries one signal of the run; every sample is written with the simulated
controller clock as its ``SourceTimestamp`` (``start`` + the sample's time), the run is
played at ``seconds_per_hour`` real seconds per simulated hour, and a Boolean
``BatchEnded`` node turns true after the last sample.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

START = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
PUBLISH_MS = 20  # the subscription's publishing interval the map asks for
NS_URI = "urn:biofab:test-reactor"
# twin variable -> (node name, unit the controller publishes in)
SIGNALS = {
    "OUR": ("OUR", "mmol/L/h"),
    "CER": ("CER", "mmol/L/h"),
    "DO": ("pO2", "%"),
    "V": ("Volume", "mL"),  # the controller reports millilitres: converted by the twin
    "F": ("Feed", "mL/h"),
    "T": ("Temp", "degC"),
    "X": ("CDW", "g/L"),
    "S": ("Glucose", "g/L"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def node_map(ns: int = 2) -> dict[str, Any]:
    return {
        "start": START.isoformat(),
        "publish_ms": PUBLISH_MS,
        "end_node": f"ns={ns};s=Reactor.BatchEnded",
        "nodes": {
            var: {"node": f"ns={ns};s=Reactor.{name}", "unit": unit}
            for var, (name, unit) in SIGNALS.items()
        },
    }


def samples(online: pd.DataFrame, offline: pd.DataFrame) -> list[tuple[float, dict[str, float]]]:
    """(time_h, {variable: value in the controller's unit}) in time order."""
    merged = online.merge(offline, on="time_h", how="outer").sort_values("time_h")
    out = []
    for _, row in merged.iterrows():
        values = {}
        for var in SIGNALS:
            if var in row and pd.notna(row[var]):
                value = float(row[var])
                if var == "V":
                    value *= 1000.0
                if var == "F":
                    value *= 1000.0
                values[var] = value
        out.append((float(row["time_h"]), values))
    return out


class Reactor:
    """Start, stop and restart a server on one port; publish samples through it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"opc.tcp://127.0.0.1:{port}/biofab/reactor"
        self.server: Any = None
        self.nodes: dict[str, Any] = {}
        self.end: Any = None
        self.published: list[tuple[float, str]] = []
        self.last: dict[str, tuple[float, float]] = {}  # variable -> (time_h, value)

    async def start(self) -> None:
        from asyncua import Server, ua

        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        ns = await server.register_namespace(NS_URI)
        assert ns == 2
        reactor = await server.nodes.objects.add_object(f"ns={ns};s=Reactor", "Reactor")
        self.nodes = {}
        for var, (name, _) in SIGNALS.items():
            self.nodes[var] = await reactor.add_variable(f"ns={ns};s=Reactor.{name}", name, 0.0)
        self.end = await reactor.add_variable(f"ns={ns};s=Reactor.BatchEnded", "BatchEnded", False)
        await server.start()
        self.server = server
        waiting = ua.DataValue(StatusCode=ua.StatusCode(ua.StatusCodes.BadWaitingForInitialData))
        for node in self.nodes.values():
            await server.write_attribute_value(node.nodeid, waiting)
        # a controller's nodes keep their last values across a restart (same timestamps)
        for var, (t, value) in self.last.items():
            await self._write(var, t, value)

    async def subscribed(self, timeout: float = 20.0) -> None:
        """Wait until a client monitors every node (the server's own view, so that no
        sample is published before anyone listens)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout
        wanted = len(SIGNALS) + 1  # the signals and BatchEnded
        while True:
            subs = self.server.iserver.subscription_service.subscriptions.values()
            if any(len(s.monitored_item_srv._monitored_items) >= wanted for s in subs):
                return
            if loop.time() > until:
                raise TimeoutError("no client subscribed to the reactor's nodes")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        await self.server.stop()
        self.server = None

    async def _write(self, var: str, time_h: float, value: float) -> None:
        from asyncua import ua

        stamp = START + timedelta(hours=time_h)
        dv = ua.DataValue(
            ua.Variant(value, ua.VariantType.Double), SourceTimestamp=stamp, ServerTimestamp=stamp
        )
        await self.server.write_attribute_value(self.nodes[var].nodeid, dv)

    async def publish(self, time_h: float, values: dict[str, float]) -> None:
        for var, value in values.items():
            await self._write(var, time_h, value)
            self.last[var] = (time_h, value)
            self.published.append((time_h, var))

    async def finish(self) -> None:
        from asyncua import ua

        await self.server.write_attribute_value(
            self.end.nodeid, ua.DataValue(ua.Variant(True, ua.VariantType.Boolean))
        )

    async def play(
        self,
        run: list[tuple[float, dict[str, float]]],
        seconds_per_hour: float,
        outage: tuple[float, float] | None = None,
        down_s: float = 0.3,
        reconnected: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Publish ``run``; during ``outage`` (h, h) the server is down and its samples
        are lost. After the restart, ``reconnected`` is awaited before publishing on: at
        this speed an hour of the run would pass while the client's backoff runs out, which
        in a real plant is seconds of hours."""
        previous = run[0][0]
        restarted = False
        for t, values in run[1:]:
            await asyncio.sleep((t - previous) * seconds_per_hour)
            previous = t
            if outage is not None and outage[0] <= t < outage[1]:
                if self.server is not None:
                    # a crash loses what the server has not yet sent: let the values
                    # published so far go out (a few publish cycles) before it goes down
                    await asyncio.sleep(3 * PUBLISH_MS / 1000)
                    await self.stop()
                    await asyncio.sleep(down_s)
                continue
            if outage is not None and t >= outage[1] and not restarted and self.server is None:
                await self.start()
                restarted = True
                await self.subscribed()
                if reconnected is not None:
                    await reconnected()
            await self.publish(t, values)
        await self.finish()


def beside_idle_reactor(port: int, client: Callable[[], None], waits: int = 600) -> None:
    """Run ``client`` (a twin that should give up by itself) in a thread while an idle
    reactor serves on ``port``; stop the server after the thread ends or after ``waits``
    polls of 0.05 s, and fail if the client is still running then (it kept reconnecting)."""
    import threading

    async def serve() -> None:
        reactor = Reactor(port)
        await reactor.start()
        thread = threading.Thread(target=client, daemon=True)
        thread.start()
        for _ in range(waits):
            if not thread.is_alive():
                break
            await asyncio.sleep(0.05)
        await reactor.stop()
        assert not thread.is_alive(), "the twin kept reconnecting to a server without the node"

    asyncio.run(serve())
