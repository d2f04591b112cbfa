"""OPC UA source: subscribe to a bioreactor controller's nodes with asyncua.

The node map (a small YAML file or dict) says which node carries which variable in which
unit, and when the batch started::

    start: 2026-12-04T08:00:00Z        # inoculation (UTC); default: first reading's time
    publish_ms: 100                    # subscription publishing interval
    end_node: "ns=2;s=Reactor1.BatchEnded"   # optional Boolean: true ends the run
    nodes:
      OUR: {node: "ns=2;s=Reactor1.OUR", unit: mmol/L/h}
      DO:  {node: "ns=2;s=Reactor1.pO2", unit: "%"}
      V:   {node: "ns=2;s=Reactor1.Volume", unit: mL}

Each data change becomes a :class:`~biofab.process.live.readings.Reading` whose time is
the value's ``SourceTimestamp`` (the controller's clock) in hours after ``start``
(``ServerTimestamp`` when the controller sets none). The subscription reports a new
sample even when its value repeats (trigger ``StatusValueTimestamp``: a constant feed rate
is still a reading) and queues every change on the server (``queue_size`` per node), so
a value written twice between two publishes is not lost. A value whose status is not
Good (``BadWaitingForInitialData``, a failed sensor) is skipped and counted in
``bad_status``.

Reconnect rule. When the connection drops (server restart, network), the readings already
received stay in the source's queue and are delivered; the source reconnects with
exponential backoff (``backoff_s`` doubling up to ``backoff_max_s``; ``max_retries`` or
forever) and subscribes afresh. Values the controller produced while the connection was
down are **not** recovered (a subscription does not outlive its session and this source
does not read the server's history): the run has a gap there and the estimator predicts
through it, its band widening. The first notification after a reconnect repeats each
node's current value; if it was already received it is an exact duplicate and dropped
(:mod:`biofab.process.live.ordering`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from biofab.core.errors import InputError
from biofab.core.scenario_yaml import Reader, read_yaml
from biofab.process.live.readings import Reading

__all__ = ["NodeMap", "OpcUaSource"]

_log = logging.getLogger(__name__)


def _quiet_asyncua() -> None:
    """Show only asyncua's critical messages, unless the application set its level.

    asyncua logs every event of a dropped link (and of an ordinary connect: a revised
    session timeout) as warnings and full tracebacks ("Publish iteration crashed",
    "close_session was called but connection is closed"); this source reports the same
    events in one line each ("OPC UA connection lost (...)", "connect failed ...").
    """
    logger = logging.getLogger("asyncua")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class NodeMap:
    """Node id -> (variable, unit), the batch start and the optional end-of-run node."""

    nodes: dict[str, tuple[str, str]]
    start: datetime | None = None
    publish_ms: float = 100.0
    end_node: str | None = None
    url: str | None = None
    source: str | None = field(default=None, compare=False)

    @classmethod
    def from_yaml(cls, path: str | Path) -> NodeMap:
        return cls.from_dict(read_yaml(path, what="node map"), source=str(path))

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> NodeMap:
        """Validate a parsed map; errors name the file and key path."""
        r = Reader(source)
        top = r.mapping(data, "")
        r.keys(top, "", required=("nodes",), optional=("start", "publish_ms", "end_node", "url"))
        nodes: dict[str, tuple[str, str]] = {}
        table = r.mapping(top["nodes"], "nodes")
        if not table:
            r.fail("nodes", "no nodes", "at least one variable: {node: ..., unit: ...}")
        for variable, spec in table.items():
            key = r.join("nodes", variable)
            entry = r.mapping(spec, key)
            r.keys(entry, key, required=("node", "unit"))
            node = r.text(entry["node"], r.join(key, "node"))
            if node in nodes:
                r.fail(r.join(key, "node"), "node mapped twice", "one variable per node", node)
            nodes[node] = (str(variable), r.text(str(entry["unit"]), r.join(key, "unit")))
        start = None
        if top.get("start") is not None:
            start = _timestamp(r, top["start"])
        publish = 100.0
        if top.get("publish_ms") is not None:
            publish = r.number(top["publish_ms"], "publish_ms", positive=True)
        end = r.text(top["end_node"], "end_node") if top.get("end_node") is not None else None
        url = r.text(top["url"], "url") if top.get("url") is not None else None
        return cls(nodes, start, publish, end, url, source)


def _timestamp(r: Reader, value: Any) -> datetime:
    if isinstance(value, datetime):
        stamp = value
    else:
        try:
            stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            r.fail("start", "not a time", "an ISO 8601 time such as 2026-12-04T08:00:00Z", value)
    if stamp.tzinfo is None:
        r.fail("start", "time without a zone", "a UTC time (ending in Z or +00:00)", value)
    return stamp.astimezone(UTC)


class _Handler:
    """asyncua data-change handler: turns notifications into readings on a queue."""

    def __init__(self, source: OpcUaSource) -> None:
        self.source = source

    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        self.source._received(node, value, data)

    def status_change_notification(self, status: Any) -> None:
        _log.warning("OPC UA subscription status changed: %s", status)


class OpcUaSource:
    """Readings from an OPC UA server's nodes (module docstring: map, times, reconnect).

    ``url``: ``opc.tcp://host:port/path``; ``nodes``: a :class:`NodeMap` or a YAML path;
    ``queue_size``: changes queued per node on the server between publishes;
    ``backoff_s``/``backoff_max_s``: first and longest wait before a reconnect attempt;
    ``max_retries``: failed connection attempts in a row before giving up (None: never);
    ``timeout_s``: per-request timeout; ``check_s``: how often a silent connection is
    probed.
    """

    def __init__(
        self,
        url: str,
        nodes: NodeMap | str | Path | Mapping[str, Any],
        *,
        queue_size: int = 1000,
        backoff_s: float = 0.1,
        backoff_max_s: float = 5.0,
        max_retries: int | None = None,
        timeout_s: float = 2.0,
        check_s: float = 0.5,
    ) -> None:
        if not str(url).startswith("opc.tcp://"):
            raise InputError("not an OPC UA URL", expected="opc.tcp://HOST:PORT[/PATH]", found=url)
        if isinstance(nodes, NodeMap):
            self.map = nodes
        elif isinstance(nodes, str | Path):
            self.map = NodeMap.from_yaml(nodes)
        else:
            self.map = NodeMap.from_dict(dict(nodes))
        for label, value in (("backoff_s", backoff_s), ("backoff_max_s", backoff_max_s)):
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"{label} must be > 0", expected="> 0 s", found=value)
        self.url = str(url)
        self.name = self.url
        self.queue_size = int(queue_size)
        self.backoff_s = float(backoff_s)
        self.backoff_max_s = float(backoff_max_s)
        self.max_retries = max_retries
        self.timeout_s = float(timeout_s)
        self.check_s = float(check_s)
        self.start: datetime | None = self.map.start
        self.connects = 0  # successful connections (1 + reconnects)
        self.drops = 0  # connections lost mid-run
        self.received = 0
        self.bad_status = 0
        self._queue: asyncio.Queue[Reading] = asyncio.Queue()
        self._ended = False
        self._stopped = False
        self._lost: asyncio.Event | None = None

    def stop(self) -> None:
        """End the stream after the readings already received (operator stop)."""
        self._stopped = True

    # -- notifications -----------------------------------------------------------------
    def _received(self, node: Any, value: Any, data: Any) -> None:
        key = node.nodeid.to_string()
        if key == self.map.end_node:
            if bool(value):
                self._ended = True
            return
        mapped = self.map.nodes.get(key)
        if mapped is None:
            return
        dv = data.monitored_item.Value
        if dv.StatusCode is not None and not dv.StatusCode.is_good():
            self.bad_status += 1
            return
        stamp = dv.SourceTimestamp or dv.ServerTimestamp or datetime.now(UTC)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        if self.start is None:
            self.start = stamp  # documented default: the first reading is t = 0
        hours = (stamp - self.start).total_seconds() / 3600.0
        variable, unit = mapped
        self.received += 1
        self._queue.put_nowait(Reading(hours, variable, value, unit, f"{self.url} {key}"))

    # -- stream --------------------------------------------------------------------------
    async def __aiter__(self) -> AsyncIterator[Reading]:
        from asyncua import Client

        _quiet_asyncua()
        delay = self.backoff_s
        failures = 0
        while not self._finished():
            client = Client(self.url, timeout=self.timeout_s)
            try:
                await client.connect()
            except (TimeoutError, OSError, ConnectionError, Exception) as err:
                failures += 1
                if self.max_retries is not None and failures > self.max_retries:
                    raise InputError(
                        f"cannot reach the OPC UA server at {self.url} after {failures} tries",
                        found=_reason(err),
                    ) from None
                _log.warning("OPC UA connect failed (%s); retrying in %.2f s", _reason(err), delay)
                # deliver what is buffered while we wait
                async for reading in self._drain_for(delay):
                    yield reading
                delay = min(delay * 2, self.backoff_max_s)
                continue
            failures, delay = 0, self.backoff_s
            self.connects += 1
            try:
                await self._subscribe(client)
                async for reading in self._serve(client):
                    yield reading
            except InputError:
                # the map names nodes the server lacks: no reconnect can fix that (it
                # reconnected and was refused again, for ever)
                raise
            except (TimeoutError, OSError, ConnectionError) as err:
                _log.warning("OPC UA connection lost (%s)", _reason(err))
            except Exception as err:  # asyncua raises its own status errors on a dead link
                _log.warning("OPC UA connection lost (%s)", _reason(err))
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.disconnect(), timeout=self.timeout_s)
            if not self._finished():
                self.drops += 1
        while not self._queue.empty():
            yield self._queue.get_nowait()

    def _finished(self) -> bool:
        return self._stopped or self._ended

    async def _subscribe(self, client: Any) -> None:
        from asyncua import ua

        subscription = await client.create_subscription(self.map.publish_ms, _Handler(self))
        ids = [*self.map.nodes, *([self.map.end_node] if self.map.end_node else [])]
        nodes = [client.get_node(n) for n in ids]
        every_sample = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
        # the public subscribe_data_change takes no filter; _subscribe is what it calls
        results = await subscription._subscribe(
            nodes, mfilter=every_sample, queuesize=self.queue_size, sampling_interval=0.0
        )
        failed = [n for n, r in zip(ids, results, strict=True) if isinstance(r, ua.StatusCode)]
        if failed:
            raise InputError(
                "the OPC UA server refused to monitor nodes of the map",
                file=self.map.source,
                expected="node ids the server has",
                found=", ".join(failed),
            )

    async def _serve(self, client: Any) -> AsyncIterator[Reading]:
        """Yield readings while the connection lives; raise when it is lost."""
        while True:
            try:
                reading = await asyncio.wait_for(self._queue.get(), timeout=self.check_s)
            except TimeoutError:
                if self._finished():
                    # the end flag may overtake the last values (each node's changes
                    # come in their own notifications): drain until the link has been
                    # quiet for a while, not for a fixed time a loaded client can miss
                    quiet = max(2 * self.map.publish_ms / 1000, self.check_s)
                    async for reading in self._drain_until_quiet(quiet):
                        yield reading
                    return
                # silent: probe the server (raises on a dead connection)
                await asyncio.wait_for(
                    client.nodes.server_state.read_value(), timeout=self.timeout_s
                )
                continue
            yield reading

    async def _drain_until_quiet(self, quiet_s: float) -> AsyncIterator[Reading]:
        """Yield queued and arriving readings until none has come for ``quiet_s`` s."""
        while True:
            try:
                yield await asyncio.wait_for(self._queue.get(), timeout=quiet_s)
            except TimeoutError:
                return

    async def _drain_for(self, seconds: float) -> AsyncIterator[Reading]:
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while (left := until - loop.time()) > 0:
            try:
                yield await asyncio.wait_for(self._queue.get(), timeout=left)
            except TimeoutError:
                return


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
