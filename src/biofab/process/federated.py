"""Federated training of a hybrid model's neural part across sites whose data stay home.

Each site (a plant, a partner, a scale) is a Flower ``ClientApp`` holding its own batches.
The server runs a Flower strategy — FedAvg (McMahan et al. 2017, AISTATS, "Communication-
efficient learning of deep networks from decentralized data") by default, FedProx (Li et al.
2020, MLSys, "Federated optimization in heterogeneous networks") as an option — over the
*network parameters only*: every round the server sends the global weights, each site takes
``local_epochs`` Adam steps through the ODE on its own batches and answers with its weights
and its number of offline samples (the FedAvg weight). Nothing else leaves a site: no
sample, no batch name, no summary statistic.

What every site shares and knows beforehand (the "frame"): the mechanistic model (balances,
yields, literature kinetics; :class:`~biofab.process.models.EColiFedBatch`), the network
architecture, and the scaling of features and losses. The frame is computed from
*reference batches simulated with the shared mechanistic model* on a nominal recipe grid,
never from a site's data, so it can be fixed before any site joins. The hybrid is
:class:`~biofab.process.hybrid.HybridModel` in its residual structure: the networks correct
the literature rates (``qS``, ``qS_of``, ``qA_cons`` by default) by a bounded factor.

Transport: Flower's Message API (``flwr.serverapp.strategy``, ``flwr.clientapp``) over an
in-process :class:`SiteGrid`: every message is serialised to Flower's protobuf wire format
and parsed again on the other side, as it would be between machines, and the grid keeps a
log of what each message carried (:attr:`FederatedHybrid.traffic_`). Baselines with the
same frame, architecture, optimiser and number of steps: :func:`train_local` (one site
alone) and :func:`train_pooled` (all batches in one place, the upper bound).

Units follow the mechanistic model (g/L, h, L/h).
"""

from __future__ import annotations

import functools
import logging
import math
import random
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from flwr.app import (
    Array,
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp
from flwr.common.serde import message_from_proto, message_to_proto
from flwr.proto.message_pb2 import Message as ProtoMessage
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg, FedProx
from flwr.supercore.task_identity import TaskIdentity

from biofab.core.errors import BiofabError, InputError
from biofab.core.progress import progress
from biofab.learn.torch_threads import torch_threads
from biofab.process.fit import Experiment
from biofab.process.hybrid import HybridModel
from biofab.process.models import EColiFedBatch
from biofab.process.simulate import FeedStart, simulate

__all__ = [
    "STRATEGIES",
    "FederatedHybrid",
    "HybridFrame",
    "Site",
    "SiteGrid",
    "heldout_errors",
    "reference_batches",
    "simulate_sites",
    "split_site",
    "train_local",
    "train_pooled",
]

STRATEGIES = ("fedavg", "fedprox")
SAMPLED = ("X", "S", "A")
"""States sampled offline in the simulated sites (and scored)."""

_REF_X0 = {"X": 0.2, "S": 8.0, "A": 0.0, "P": 0.0, "DO": 100.0, "V": 1.0}
_T_END, _T_FEED = 16.0, 5.0


# ---------------------------------------------------------------------------------------
# Sites
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """One site's batches (they never leave it). ``truth``: noise-free samples of the same
    batches when the site is simulated (for scoring only); ``info``: how it was made."""

    name: str
    batches: tuple[Experiment, ...]
    truth: tuple[Experiment, ...] | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        """Offline samples of sampled states (the FedAvg weight)."""
        return _n_samples(self.batches)


def _n_samples(batches: Sequence[Experiment]) -> int:
    n = 0
    for e in batches:
        cols = [c for c in e.data.columns if c in EColiFedBatch.states]
        n += int(e.data[cols].notna().to_numpy().sum()) if cols else 0
    return n


# Strain family of the sites (the kinetics they share and the literature model lacks):
# slower glucose uptake (qS_max -16 %) with a lower affinity (Ks x2), a higher respiratory
# capacity (overflow starts later) and slower acetate re-use. Chosen so that the literature
# model is wrong by 0.2-1 in held-out nRMSE and a bounded-factor residual can express it.
_FAMILY = {"qS_max": 1.05, "Ks": 0.1, "qS_crit": 1.25, "qA_max": 0.11}
_SCALES_L = (1.0, 10.0, 150.0, 50.0, 3.0)
_NOISE = (0.03, 0.05, 0.08, 0.04, 0.06)
_FEED_RANGES = (  # L/h of 500 g/L glucose per L of initial volume
    (0.003, 0.009),
    (0.006, 0.012),
    (0.009, 0.015),
    (0.005, 0.013),
    (0.004, 0.010),
)


def simulate_sites(
    n_sites: int = 3,
    *,
    batches: int | Sequence[int] = (6, 8, 10),
    seed: int = 0,
    spread: float = 0.08,
    t_end: float = _T_END,
    first: int = 0,
) -> list[Site]:
    """``n_sites`` simulated sites that differ in scale and kinetics (non-IID).

    Site ``i`` (from ``first``): initial volume ``(1, 10, 150, 50, 3)[i % 5]`` L with the
    feed scaled to it; feed intensities drawn from its own range (per L); its own strain,
    the family kinetics (``_FAMILY``: slower uptake, later overflow, slower acetate re-use
    than the literature model) times log-normal factors of sd ``spread`` on each of them;
    relative sample noise ``(3, 5, 8, 4, 6) %`` plus 0.02 g/L; sampling every 1 h (even
    sites) or 2 h (odd sites); X0 0.1-0.3 g/L, S0 6-10 g/L. ``batches`` per site (a number
    or one per site, cycled). The seed fixes everything.
    """
    if n_sites < 1:
        raise InputError("n_sites must be >= 1", found=n_sites)
    counts = [batches] if isinstance(batches, int) else list(batches)
    if not counts or min(counts) < 1:
        raise InputError("batches per site must be >= 1", found=counts)
    out = []
    for k in range(n_sites):
        i = first + k
        rng = np.random.default_rng([seed, i])
        params = {
            name: value * float(np.exp(spread * rng.standard_normal()))
            for name, value in _FAMILY.items()
        }
        out.append(_simulate_site(f"site{i + 1}", i, counts[k % len(counts)], params, rng, t_end))
    return out


def _simulate_site(
    name: str, i: int, n: int, params: dict[str, float], rng: np.random.Generator, t_end: float
) -> Site:
    plant = EColiFedBatch(params)
    v0 = _SCALES_L[i % len(_SCALES_L)]
    lo, hi = _FEED_RANGES[i % len(_FEED_RANGES)]
    noise = _NOISE[i % len(_NOISE)]
    step = 1.0 if i % 2 == 0 else 2.0
    times = np.arange(0.0, t_end + 1e-9, step)
    noisy, clean = [], []
    for b in range(n):
        f = float(rng.uniform(lo, hi)) * v0
        x0 = {
            **_REF_X0,
            "X": float(rng.uniform(0.1, 0.3)),
            "S": float(rng.uniform(6.0, 10.0)),
            "V": v0,
        }
        events = (FeedStart(_T_FEED, f),)
        traj = simulate(plant, x0, t_end, events=list(events), t_eval=times).frame
        truth = pd.DataFrame({"time_h": times})
        data = pd.DataFrame({"time_h": times})
        for s in SAMPLED:
            y = np.clip(traj[s].to_numpy(dtype=float), 0.0, None)
            truth[s] = y
            eps = noise * rng.standard_normal(y.size) * y + 0.02 * rng.standard_normal(y.size)
            data[s] = np.clip(y + eps, 0.0, None)
        label = f"{name}-b{b + 1:02d}"
        noisy.append(Experiment(data, x0, events=events, name=label, t_end=t_end))
        clean.append(Experiment(truth, x0, events=events, name=label, t_end=t_end))
    info = {
        "volume_L": v0,
        "feed_L_per_h": [lo * v0, hi * v0],
        "noise_relative": noise,
        "sampling_h": step,
        "kinetics": params,
    }
    return Site(name, tuple(noisy), tuple(clean), info)


def split_site(
    site: Site, *, test: int = 2, validation: int = 1, seed: int = 0
) -> tuple[Site, Site, Site]:
    """Train, validation and test parts of a site, grouped by batch (a batch is never split
    across parts; never by time point). Batches are shuffled with ``seed``."""
    n = len(site.batches)
    if test < 0 or validation < 0 or n - test - validation < 1:
        raise InputError(
            f"site '{site.name}' has {n} batches: too few for {test} test and {validation} "
            "validation batches and at least one training batch",
            expected=f">= {test + validation + 1} batches",
            found=n,
        )
    order = np.random.default_rng([seed, n]).permutation(n)
    parts = (order[test + validation :], order[test : test + validation], order[:test])

    def take(idx: Any) -> Site:
        idx = sorted(int(j) for j in idx)
        truth = tuple(site.truth[j] for j in idx) if site.truth is not None else None
        return Site(f"{site.name}", tuple(site.batches[j] for j in idx), truth, site.info)

    return take(parts[0]), take(parts[1]), take(parts[2])


# ---------------------------------------------------------------------------------------
# The shared frame: model, architecture, scaling
# ---------------------------------------------------------------------------------------


def reference_batches(t_end: float = _T_END) -> list[Experiment]:
    """Batches of the shared literature model on a nominal recipe grid (1 L, X0 0.2 g/L,
    S0 8 g/L, feeds 0.003-0.015 L/h from 5 h, hourly samples of X, S, A). They fix the
    feature and loss scaling every site uses; no site data enter them."""
    return list(_reference(float(t_end)))


@functools.lru_cache(maxsize=4)
def _reference(t_end: float) -> tuple[Experiment, ...]:
    model = EColiFedBatch()
    times = np.arange(0.0, t_end + 1e-9, 1.0)
    out = []
    for f in (0.003, 0.006, 0.009, 0.012, 0.015):
        events = (FeedStart(_T_FEED, f),)
        traj = simulate(model, _REF_X0, t_end, events=list(events), t_eval=times).frame
        data = pd.DataFrame(
            {"time_h": times, **{s: np.clip(traj[s].to_numpy(), 0.0, None) for s in SAMPLED}}
        )
        out.append(Experiment(data, _REF_X0, events=events, name=f"ref-{f:g}", t_end=t_end))
    return tuple(out)


@dataclass(frozen=True)
class HybridFrame:
    """What every site agrees on before training: the hybrid's architecture and options
    (``hidden`` widths, ``ensemble`` members, ``learned`` rates, ROS2 step ``dt`` h,
    ``weight_decay``) and the reference batches that fix the scaling."""

    learned: tuple[str, ...] = ("qS", "qS_of", "qA_cons")
    hidden: tuple[int, ...] = (16, 16)
    ensemble: int = 3
    dt: float = 0.25
    weight_decay: float = 1e-5
    max_factor: float = 3.0
    seed: int = 0
    t_end: float = _T_END

    def build(self) -> HybridModel:
        """An untrained hybrid with the frame's scaling set (from the reference batches) and
        its networks initialised from ``seed`` (the last layer at zero: the literature
        model). The same call gives the same starting point everywhere."""
        model = HybridModel(
            EColiFedBatch(),
            learned=self.learned,
            features=SAMPLED,
            hidden=self.hidden,
            ensemble=self.ensemble,
            dt=self.dt,
            epochs=0,
            warmup=0,
            physics_weight=0.0,
            weight_decay=self.weight_decay,
            max_factor=self.max_factor,
            seed=self.seed,
            device="cpu",
            n_jobs=1,
        )
        return model.fit(reference_batches(self.t_end))


def parameter_names(model: HybridModel) -> list[str]:
    """Names of the networks' tensors in order (``layer{j}.weight``/``.bias``; weights
    ``(members, fan_in, fan_out)``, biases ``(members, 1, fan_out)``)."""
    n = len(model.hidden) + 1
    return [f"layer{j}.{kind}" for j in range(n) for kind in ("weight", "bias")]


def get_weights(model: HybridModel) -> dict[str, np.ndarray]:
    """The networks' parameters as NumPy arrays (the state that travels)."""
    names = parameter_names(model)
    return {n: p.detach().cpu().numpy().copy() for n, p in zip(names, model.params_, strict=True)}


def set_weights(model: HybridModel, weights: Mapping[str, np.ndarray], source: str = "") -> None:
    """Load ``weights`` into ``model``; refuses missing, extra, misshaped or non-finite arrays
    in one line naming ``source``."""
    names = parameter_names(model)
    where = f" from {source}" if source else ""
    if sorted(weights) != sorted(names):
        raise InputError(
            f"weights{where} do not match the network",
            expected=", ".join(names),
            found=", ".join(sorted(weights)),
        )
    for name, p in zip(names, model.params_, strict=True):
        a = np.asarray(weights[name])
        if a.shape != tuple(p.shape):
            raise InputError(
                f"weight '{name}'{where} has the wrong shape",
                expected=str(tuple(p.shape)),
                found=str(a.shape),
            )
        if not np.all(np.isfinite(a)):
            raise InputError(f"weight '{name}'{where} holds NaN or infinite values")
    with torch.no_grad():
        for name, p in zip(names, model.params_, strict=True):
            p.copy_(torch.as_tensor(np.asarray(weights[name]), dtype=p.dtype))


# ---------------------------------------------------------------------------------------
# Local optimisation (the same for local, pooled and each federated round)
# ---------------------------------------------------------------------------------------


def cosine_lr(lr: float, step: int, total: int) -> float:
    """Learning rate at global ``step`` of ``total`` (cosine decay to 1 % of ``lr``)."""
    frac = min(max(step / max(total, 1), 0.0), 1.0)
    return lr * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * frac)))


class _Objective:
    """Data loss of ``model`` on ``batches`` (the hybrid's own scaled MSE of the offline
    samples through the ODE, summed over members), prepared once."""

    def __init__(self, model: HybridModel, batches: Sequence[Experiment]) -> None:
        exps = list(batches)
        prep = model._prepare(exps, t_end=None)
        model._check_data(exps, prep)
        self.model = model
        self.obs = model._obs_tensors(prep)
        self.x0 = torch.tensor(prep.x0, dtype=torch.float64)
        self.u = torch.tensor(prep.u, dtype=torch.float64)

    def __call__(self) -> torch.Tensor:
        m = self.model
        return m._data_loss(m._integrate(self.x0, self.u), self.obs)

    def value(self) -> float:
        """Mean loss per member, without gradients."""
        with torch.no_grad(), torch_threads(1):
            return float(self()) / self.model.ensemble


def adam_steps(
    model: HybridModel,
    objective: _Objective,
    steps: int,
    lrs: Sequence[float],
    proximal_mu: float = 0.0,
) -> list[float]:
    """``steps`` Adam steps on ``objective`` with learning rates ``lrs`` (one per step),
    weight decay on the networks, gradient clipping, and a proximal term
    ``mu/2 ||w - w_start||^2`` when ``proximal_mu > 0`` (FedProx). A step whose loss is not
    finite restores the last good weights and halves the rate. Returns the loss per step."""
    params = model.params_
    start = [p.detach().clone() for p in params]
    opt = torch.optim.Adam(params, lr=lrs[0] if lrs else 0.0, weight_decay=model.weight_decay)
    good = [p.detach().clone() for p in params]
    shrink = 1.0
    history: list[float] = []
    with torch_threads(1):
        for k in range(steps):
            for g in opt.param_groups:
                g["lr"] = lrs[k] * shrink
            opt.zero_grad()
            loss = objective()
            value = float(loss.detach())
            if not math.isfinite(value):
                with torch.no_grad():
                    for p, q in zip(params, good, strict=True):
                        p.copy_(q)
                shrink *= 0.5
                continue
            good = [p.detach().clone() for p in params]
            if proximal_mu > 0:
                prox = sum(((p - s) ** 2).sum() for p, s in zip(params, start, strict=True))
                loss = loss + 0.5 * proximal_mu * prox
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 10.0 * model.ensemble)
            opt.step()
            history.append(value / model.ensemble)
        # The last step may have made things worse (noisy end): keep the better of the two.
        with torch.no_grad():
            last = float(objective())
            if not math.isfinite(last) or (history and last / model.ensemble > history[-1]):
                for p, q in zip(params, good, strict=True):
                    p.copy_(q)
    return history


def train_local(
    frame: HybridFrame,
    batches: Sequence[Experiment],
    *,
    epochs: int,
    lr: float = 0.02,
) -> HybridModel:
    """The frame's hybrid trained on ``batches`` alone: ``epochs`` Adam steps (full batch)
    with the cosine schedule the federated run uses."""
    model = frame.build()
    objective = _Objective(model, batches)
    adam_steps(model, objective, epochs, [cosine_lr(lr, k, epochs) for k in range(epochs)])
    model.loss_history_ = []
    return model


def train_pooled(
    frame: HybridFrame, sites: Sequence[Site], *, epochs: int, lr: float = 0.02
) -> HybridModel:
    """Upper bound: the frame's hybrid trained on every site's batches in one place."""
    return train_local(frame, [b for s in sites for b in s.batches], epochs=epochs, lr=lr)


# ---------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------


def heldout_errors(
    model: HybridModel,
    batches: Sequence[Experiment],
    scales: Mapping[str, float],
    states: Sequence[str] = SAMPLED,
    z: float = 1.96,
) -> dict[str, float]:
    """RMSE per state (model units) of the ensemble mean against the samples of
    ``batches``, their mean divided by ``scales`` (``nrmse``, unitless), and the coverage
    of the ensemble band ``mean ± z std`` (epistemic spread only; no noise term)."""
    sq: dict[str, list[float]] = {s: [] for s in states}
    inside: list[bool] = []
    for e in batches:
        t = e.data["time_h"].to_numpy(dtype=float)
        mean, std = model.predict(e.x0, e.inputs, t, e.events)
        for s in states:
            if s not in e.data.columns:
                continue
            y = pd.to_numeric(e.data[s], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(y)
            d = mean[s].to_numpy()[ok] - y[ok]
            sq[s].extend((d**2).tolist())
            inside.extend((np.abs(d) <= z * std[s].to_numpy()[ok]).tolist())
    out = {s: float(np.sqrt(np.mean(v))) for s, v in sq.items() if v}
    out["nrmse"] = float(np.mean([out[s] / scales[s] for s in states if s in out]))
    out["coverage"] = float(np.mean(inside)) if inside else float("nan")
    return out


# ---------------------------------------------------------------------------------------
# Flower: the in-process grid, the client app, the strategy
# ---------------------------------------------------------------------------------------


@dataclass
class Traffic:
    """One message on the grid: round, direction (``down``: server to site, ``up``), node,
    wire size (bytes) and what its records held (array name -> shape, metric and config
    keys)."""

    round: int
    direction: str
    node: int
    message_type: str
    n_bytes: int
    arrays: dict[str, tuple[int, ...]]
    metrics: list[str]
    config: list[str]
    records: list[str]


def _describe(message: Any) -> tuple[dict[str, tuple[int, ...]], list[str], list[str], list[str]]:
    arrays: dict[str, tuple[int, ...]] = {}
    metrics: list[str] = []
    config: list[str] = []
    content = message.content
    for key in content:
        rec = content[key]
        if isinstance(rec, ArrayRecord):
            for name in rec:
                arrays[name] = tuple(int(d) for d in rec[name].shape)
        elif isinstance(rec, MetricRecord):
            metrics += list(rec.keys())
        elif isinstance(rec, ConfigRecord):
            config += list(rec.keys())
    return arrays, metrics, config, list(content.keys())


class SiteGrid(Grid):
    """A Flower ``Grid`` that delivers messages to ClientApps in this process.

    Every message crosses as bytes: serialised with Flower's protobuf serde, parsed on the
    other side, so what a site receives and sends is exactly what would travel between
    machines; :attr:`traffic` logs each one. Node ``i + 1`` is site ``i``.
    """

    def __init__(self, client_app: Any, n_nodes: int, run_id: int = 1) -> None:
        self.client_app = client_app
        self.run_id = run_id
        self.contexts = {
            i + 1: Context(
                run_id=run_id, node_id=i + 1, node_config={}, state=RecordDict(), run_config={}
            )
            for i in range(n_nodes)
        }
        self.traffic: list[Traffic] = []
        self._replies: dict[str, Any] = {}
        self.round = 0

    # -- the Grid interface ---------------------------------------------------------------
    def set_run(self, run: Any) -> None:
        return None

    @property
    def run(self) -> Any:
        raise NotImplementedError("SiteGrid runs one strategy in-process; it has no Run")

    def create_message(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("deprecated in Flower; use flwr.app.Message")

    def get_node_ids(self) -> Iterable[int]:
        return list(self.contexts)

    def get_nodes(self) -> Iterable[Any]:
        return []

    def push_messages(self, messages: Iterable[Any]) -> Iterable[str]:
        ids = []
        for msg in messages:
            msg.metadata.__dict__["_message_id"] = uuid.uuid4().hex
            node = int(msg.metadata.dst_node_id)
            if node not in self.contexts:
                raise BiofabError(f"federated: no site has node id {node}")
            received = self._wire(msg, "down", node)
            TaskIdentity.node_id = node
            try:
                reply = self.client_app(received, self.contexts[node])
            finally:
                TaskIdentity.node_id = 0
            self._replies[msg.metadata.message_id] = self._wire(reply, "up", node)
            ids.append(msg.metadata.message_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Any]:
        return [self._replies.pop(i) for i in message_ids if i in self._replies]

    def send_and_receive(self, messages: Iterable[Any], *, timeout: float | None = None) -> Any:
        return self.pull_messages(self.push_messages(messages))

    # -- wire -----------------------------------------------------------------------------
    def _wire(self, message: Any, direction: str, node: int) -> Any:
        data = message_to_proto(message).SerializeToString()
        proto = ProtoMessage()
        proto.ParseFromString(data)
        received = message_from_proto(proto)
        arrays, metrics, config, records = _describe(received)
        self.traffic.append(
            Traffic(
                self.round,
                direction,
                node,
                str(message.metadata.message_type),
                len(data),
                arrays,
                metrics,
                config,
                records,
            )
        )
        return received


class _SiteTrainer:
    """What runs at a site: its own copy of the frame's hybrid and its batches."""

    def __init__(
        self,
        frame: HybridFrame,
        site: Site,
        validation: Site | None,
        total_steps: int,
        lr: float,
    ) -> None:
        self.name = site.name
        self.model = frame.build()
        self.objective = _Objective(self.model, site.batches)
        self.val = (
            _Objective(self.model, validation.batches)
            if validation is not None and validation.batches
            else None
        )
        self.n = site.n_samples
        self.total = total_steps
        self.lr = lr

    def train(
        self, weights: Mapping[str, np.ndarray], server_round: int, local: int, mu: float
    ) -> tuple[dict[str, np.ndarray], float]:
        set_weights(self.model, weights, "the server")
        first = (server_round - 1) * local
        lrs = [cosine_lr(self.lr, first + k, self.total) for k in range(local)]
        hist = adam_steps(self.model, self.objective, local, lrs, mu)
        return get_weights(self.model), float(hist[-1]) if hist else float("nan")

    def evaluate(self, weights: Mapping[str, np.ndarray]) -> float:
        set_weights(self.model, weights, "the server")
        return (self.val or self.objective).value()


def _record(weights: Mapping[str, np.ndarray]) -> Any:
    """Named arrays as a Flower ``ArrayRecord`` (the state dict that travels)."""
    return ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in weights.items()})


def _numpy(record: Any) -> dict[str, np.ndarray]:
    return {str(k): v.numpy() for k, v in record.items()}


def _client_app(trainers: Mapping[int, _SiteTrainer]) -> Any:
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        site = trainers[context.node_id]
        cfg: dict[str, Any] = dict(msg.content["config"])
        new, loss = site.train(
            _numpy(msg.content["arrays"]),
            int(cfg["server-round"]),
            int(cfg["local-epochs"]),
            float(cfg.get("proximal-mu", 0.0)),
        )
        arrays = _record(new)
        metrics = MetricRecord({"num-examples": site.n, "train-loss": loss})
        return Message(RecordDict({"arrays": arrays, "metrics": metrics}), reply_to=msg)

    @app.evaluate()
    def evaluate(msg: Message, context: Context) -> Message:
        site = trainers[context.node_id]
        loss = site.evaluate(_numpy(msg.content["arrays"]))
        metrics = MetricRecord({"num-examples": site.n, "val-loss": loss})
        return Message(RecordDict({"metrics": metrics}), reply_to=msg)

    return app


def _finite_strategy(name: str, n_sites: int, proximal_mu: float, rejected: list[str]) -> Any:
    """Flower's FedAvg or FedProx (weights by ``num-examples``) that drops a reply whose
    arrays hold NaN or infinite values, logging which node sent it, instead of poisoning
    the average; every site failing is an error."""
    base: type[Any] = FedProx if name == "fedprox" else FedAvg
    kw: dict[str, Any] = {"proximal_mu": proximal_mu} if name == "fedprox" else {}

    class Finite(base):
        def aggregate_train(self, server_round: int, replies: Iterable[Any]) -> Any:
            kept = []
            for msg in replies:
                if msg.has_error():
                    rejected.append(
                        f"round {server_round}: node {msg.metadata.src_node_id} failed "
                        f"({msg.error.reason})"
                    )
                    continue
                arrays = _numpy(msg.content["arrays"])
                if all(np.all(np.isfinite(a)) for a in arrays.values()):
                    kept.append(msg)
                else:
                    rejected.append(
                        f"round {server_round}: node {msg.metadata.src_node_id} sent NaN or "
                        "infinite weights; its update was left out of the average"
                    )
            if not kept:
                raise BiofabError(
                    f"federated round {server_round}: no site sent a usable update "
                    f"({'; '.join(rejected[-n_sites:])})"
                )
            return super().aggregate_train(server_round, kept)

    return Finite(
        min_train_nodes=n_sites,
        min_evaluate_nodes=n_sites,
        min_available_nodes=n_sites,
        **kw,
    )


class FederatedHybrid:
    """Train the frame's hybrid across sites with Flower (scikit-learn style).

    Parameters
    ----------
    frame:
        The shared :class:`HybridFrame` (architecture and scaling).
    rounds:
        Federated rounds (server aggregations).
    local_epochs:
        Adam steps (full batch through the ODE) per site per round; the total budget per
        site is ``rounds * local_epochs`` steps, the same as :func:`train_local` is given.
    lr:
        Peak learning rate of the cosine schedule over the whole run.
    strategy:
        ``'fedavg'`` (default) or ``'fedprox'`` with ``proximal_mu``.
    verbose:
        Show progress per round.

    Attributes
    ----------
    model_: the hybrid with the final global weights; history_: per round the weighted mean
    training loss and validation loss the sites report; traffic_: every message on the grid
    (:class:`Traffic`); rejected_: updates left out (NaN weights, failures); sites_: names.
    """

    def __init__(
        self,
        frame: HybridFrame | None = None,
        *,
        rounds: int = 10,
        local_epochs: int = 10,
        lr: float = 0.02,
        strategy: str = "fedavg",
        proximal_mu: float = 0.01,
        verbose: bool = False,
    ) -> None:
        self.frame = frame if frame is not None else HybridFrame()
        self.rounds = rounds
        self.local_epochs = local_epochs
        self.lr = lr
        self.strategy = strategy
        self.proximal_mu = proximal_mu
        self.verbose = verbose

    def _check(self, sites: Sequence[Site]) -> None:
        if self.strategy not in STRATEGIES:
            raise InputError(
                "unknown strategy", expected=" or ".join(STRATEGIES), found=self.strategy
            )
        if self.rounds < 1 or self.local_epochs < 1:
            raise InputError(
                "rounds and local epochs must be >= 1",
                found=f"rounds={self.rounds}, local_epochs={self.local_epochs}",
            )
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise InputError("lr must be a finite number > 0", found=self.lr)
        if self.strategy == "fedprox" and not self.proximal_mu >= 0:
            raise InputError("proximal_mu must be >= 0", found=self.proximal_mu)
        if len(sites) < 2:
            raise InputError(
                "federated training needs at least 2 sites", expected=">= 2", found=len(sites)
            )
        names = [s.name for s in sites]
        if len(set(names)) != len(names):
            raise InputError("site names must be unique", found=", ".join(names))
        for s in sites:
            if not s.batches:
                raise InputError(f"site '{s.name}' has no batches", expected=">= 1 batch")

    def fit(
        self,
        sites: Sequence[Site],
        validation: Sequence[Site | None] | None = None,
        make_trainer: Callable[..., Any] | None = None,
    ) -> FederatedHybrid:
        """Run the federation over ``sites`` (their training batches); ``validation``
        (one per site, optional) gives the validation loss each site reports per round.
        ``make_trainer`` replaces the site trainer class (a site with its own behaviour)."""
        self._check(sites)
        vals = list(validation) if validation is not None else [None] * len(sites)
        total = self.rounds * self.local_epochs
        build = make_trainer or _SiteTrainer
        trainers = {
            i + 1: build(self.frame, s, v, total, self.lr)
            for i, (s, v) in enumerate(zip(sites, vals, strict=True))
        }
        grid = SiteGrid(_client_app(trainers), len(sites))
        global_model = self.frame.build()
        start = get_weights(global_model)
        rejected: list[str] = []
        strategy = _finite_strategy(self.strategy, len(sites), self.proximal_mu, rejected)
        history: list[dict[str, float]] = []
        saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
        flwr_log = logging.getLogger("flwr")
        level = flwr_log.level
        with progress("federated round", self.rounds, enabled=self.verbose) as bar:

            def evaluate_fn(server_round: int, arrays: ArrayRecord) -> None:
                grid.round = server_round + 1
                if server_round > 0:
                    bar.advance()
                return None

            def record(result: Any) -> None:
                for r in range(1, self.rounds + 1):
                    tr = result.train_metrics_clientapp.get(r, {})
                    ev = result.evaluate_metrics_clientapp.get(r, {})
                    history.append(
                        {
                            "round": float(r),
                            "train_loss": float(tr.get("train-loss", float("nan"))),
                            "val_loss": float(ev.get("val-loss", float("nan"))),
                        }
                    )

            # Flower samples the nodes of a round with Python's global ``random``; the order
            # of the replies is the order of the weighted sum, so it is seeded here (and the
            # caller's random state restored) to make a run repeatable.
            random_state = random.getstate()
            random.seed(self.frame.seed)
            try:
                TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, 0
                flwr_log.setLevel(logging.WARNING)
                grid.round = 1
                result = strategy.start(
                    grid,
                    _record(start),
                    num_rounds=self.rounds,
                    train_config=ConfigRecord({"local-epochs": self.local_epochs}),
                    evaluate_fn=evaluate_fn,
                )
            finally:
                random.setstate(random_state)
                TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved
                flwr_log.setLevel(level)
            record(result)
        set_weights(global_model, _numpy(result.arrays), "the server")
        self.model_ = global_model
        self.history_ = history
        self.traffic_ = grid.traffic
        self.rejected_ = rejected
        self.sites_ = [s.name for s in sites]
        return self
