"""``MLPEnsemble``: a deep ensemble of small PyTorch MLPs trained side by side."""

from __future__ import annotations

import itertools
import math
from typing import Self

import numpy as np
import torch

from biofab.core.errors import NotEnoughDataError
from biofab.learn.state import SurrogateState
from biofab.learn.surrogate import check_xy, inverse_variance_weights
from biofab.learn.torch_threads import torch_threads


class MLPEnsemble:
    """``n_members`` small MLPs, each from its own initialisation and bootstrap resample.

    All members are trained at once as one batched network (weights of shape
    ``(k, fan_in, fan_out)``), full-batch with Adam and a cosine-decayed
    learning rate: on the few hundred rows of a campaign one step is a handful
    of small matrix products, so CPU training takes about a second and the
    same code runs on a GPU when one is present. Inputs and outputs are
    standardised internally with the training rows' mean and std.

    ``predict`` returns the members' mean and standard deviation. The std is
    the epistemic spread only (no observation-noise head): it is comparable
    to :class:`~biofab.learn.gp.GPSurrogate`'s latent std, and a learnt
    per-member variance tends to collapse on data this small.

    A bootstrap resample is realised as integer row weights (how often each
    row was drawn), which for full-batch training is the same loss as
    training on the duplicated rows.

    Parameters
    ----------
    n_members, hidden:
        Ensemble size and the widths of the hidden layers (SiLU activations,
        smooth so that the fitted surface is smooth).
    epochs, lr, weight_decay:
        Full-batch Adam steps, initial learning rate (decayed to 0 along a
        cosine) and L2 penalty.
    seed:
        Seeds every member's initialisation and resample; same seed and data
        give the same predictions on the same device.
    device:
        ``"cpu"``, ``"cuda"``, a ``torch.device`` or None for CUDA when
        available, else the CPU.
    n_jobs:
        Torch CPU threads while fitting and predicting (see :func:`torch_threads`);
        None leaves torch's setting alone.
    weight_by_yvar:
        When ``fit`` gets ``yvar``, multiply each row's squared error by its
        inverse variance (floored at 1 % of the median variance, scaled to
        mean 1 per output) so that noisier values pull less.

    Attributes
    ----------
    n_outputs_ : int
        Number of outputs ``m``.
    n_features_in_ : int
        Width ``d`` of ``X``.
    device_ : torch.device
        Where the weights live.
    weights_, biases_ : list[torch.Tensor]
        Per layer, float32 tensors ``(k, fan_in, fan_out)`` and ``(k, 1, fan_out)``.
    loss_ : float
        Final training loss (mean over members, standardised units).
    """

    def __init__(
        self,
        n_members: int = 5,
        hidden: tuple[int, ...] = (64, 64),
        epochs: int = 300,
        lr: float = 1e-2,
        weight_decay: float = 1e-4,
        seed: int = 0,
        device: str | torch.device | None = None,
        n_jobs: int | None = 1,
        weight_by_yvar: bool = True,
    ) -> None:
        self.n_members = n_members
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.seed = seed
        self.device = device
        self.n_jobs = n_jobs
        self.weight_by_yvar = weight_by_yvar

    def fit(self, X: np.ndarray, y: np.ndarray, yvar: np.ndarray | None = None) -> Self:
        """Train every member on ``X`` ``(n, d)``, ``y`` ``(n,)`` or ``(n, m)``.

        ``yvar`` (``y``'s shape) weights each squared error by inverse variance
        when ``weight_by_yvar`` is set. Raises ``NotEnoughDataError`` for
        fewer than 2 rows.
        """
        if self.n_members < 1:
            raise ValueError("n_members must be at least 1")
        Xa, Y, V = check_xy(X, y, yvar)
        n, d = Xa.shape
        if n < 2:
            raise NotEnoughDataError(f"an MLP ensemble needs at least 2 measurements, got {n}")
        m = Y.shape[1]
        k = self.n_members
        device = _resolve_device(self.device)

        # Constant columns (an unused one-hot level) get scale 1 instead of 0.
        self._x_mean = Xa.mean(axis=0)
        x_std = Xa.std(axis=0)
        self._x_std = np.where(x_std > 1e-12, x_std, 1.0)
        self._y_mean = Y.mean(axis=0)
        y_std = Y.std(axis=0)
        self._y_std = np.where(y_std > 1e-12, y_std, 1.0)

        rng = np.random.default_rng(self.seed)
        # counts[j, i]: how often member j's bootstrap resample drew row i.
        counts = np.stack([np.bincount(rng.integers(0, n, size=n), minlength=n) for _ in range(k)])
        row_w = np.ones((n, m))
        if V is not None and self.weight_by_yvar:
            row_w = np.column_stack([inverse_variance_weights(V[:, j]) for j in range(m)])
        # (k, n, m) weights; divided by n*m so the loss is a weighted mean per member.
        w = counts[:, :, None] * row_w[None, :, :] / (n * m)

        gen = torch.Generator().manual_seed(self.seed)
        sizes = [d, *self.hidden, m]
        weights: list[torch.Tensor] = []
        biases: list[torch.Tensor] = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            # torch.nn.Linear's default uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) init.
            bound = 1.0 / math.sqrt(fan_in)
            W = (torch.rand(k, fan_in, fan_out, generator=gen) * 2 - 1) * bound
            b = (torch.rand(k, 1, fan_out, generator=gen) * 2 - 1) * bound
            weights.append(W.to(device).requires_grad_())
            biases.append(b.to(device).requires_grad_())

        Xt = torch.as_tensor((Xa - self._x_mean) / self._x_std, dtype=torch.float32, device=device)
        Yt = torch.as_tensor((Y - self._y_mean) / self._y_std, dtype=torch.float32, device=device)
        Wt = torch.as_tensor(w, dtype=torch.float32, device=device)

        params = weights + biases
        opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(self.epochs, 1))
        loss = torch.zeros((), device=device)
        with torch_threads(self.n_jobs):
            for _ in range(self.epochs):
                opt.zero_grad(set_to_none=True)
                pred = _forward(Xt, weights, biases)
                # Members share no parameters, so summing their losses trains each on its own.
                loss = (Wt * (pred - Yt.unsqueeze(0)) ** 2).sum()
                loss.backward()
                opt.step()
                sched.step()

        self.weights_ = [W.detach() for W in weights]
        self.biases_ = [b.detach() for b in biases]
        self.device_ = device
        self.n_outputs_ = m
        self.n_features_in_ = d
        self.loss_ = float(loss.detach().cpu()) / k
        self._y_ndim = np.ndim(y)
        return self

    # -- saving --------------------------------------------------------------
    def get_state(self) -> SurrogateState:
        """Hyper-parameters, standardisation and every layer's weights as arrays.

        ``weight.<l>`` ``(k, fan_in, fan_out)`` and ``bias.<l>`` ``(k, 1, fan_out)``
        (float32, as trained); ``x_mean``, ``x_std`` ``(d,)``, ``y_mean``, ``y_std`` ``(m,)``.
        """
        if not hasattr(self, "weights_"):
            raise RuntimeError("MLPEnsemble is not fitted; call fit(X, y) first")
        arrays = {
            "x_mean": self._x_mean,
            "x_std": self._x_std,
            "y_mean": self._y_mean,
            "y_std": self._y_std,
        }
        for i, (W, b) in enumerate(zip(self.weights_, self.biases_, strict=True)):
            arrays[f"weight.{i}"] = W.cpu().numpy()
            arrays[f"bias.{i}"] = b.cpu().numpy()
        params = {
            "n_members": self.n_members,
            "hidden": list(self.hidden),
            "epochs": self.epochs,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "seed": self.seed,
            "device": None if self.device is None else str(self.device),
            "n_jobs": self.n_jobs,
            "weight_by_yvar": self.weight_by_yvar,
        }
        fitted = {
            "n_outputs_": self.n_outputs_,
            "n_features_in_": self.n_features_in_,
            "loss_": self.loss_,
            "y_ndim": self._y_ndim,
        }
        return SurrogateState(params, fitted, arrays)

    @classmethod
    def from_state(cls, state: SurrogateState) -> Self:
        """The fitted ensemble that :meth:`get_state` described.

        Weights go to the model's ``device`` (CUDA when it was None or
        ``"cuda"`` and a GPU is present, else the CPU).
        """
        params = dict(state.params)
        params["hidden"] = tuple(int(h) for h in params["hidden"])
        model = cls(**params)
        device = _resolve_device(model.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            device = torch.device("cpu")
        a = state.arrays
        layers = len(model.hidden) + 1
        model.weights_ = [
            torch.from_numpy(a[f"weight.{i}"].copy()).to(device) for i in range(layers)
        ]
        model.biases_ = [torch.from_numpy(a[f"bias.{i}"].copy()).to(device) for i in range(layers)]
        model._x_mean, model._x_std = a["x_mean"], a["x_std"]
        model._y_mean, model._y_std = a["y_mean"], a["y_std"]
        model.device_ = device
        model.n_outputs_ = int(state.fitted["n_outputs_"])
        model.n_features_in_ = int(state.fitted["n_features_in_"])
        model.loss_ = float(state.fitted["loss_"])
        model._y_ndim = int(state.fitted["y_ndim"])
        return model

    def predict_members(self, X: np.ndarray) -> np.ndarray:
        """Each member's prediction at ``X`` ``(n, d)``, in ``y``'s units.

        Shape ``(k, n)`` when fitted on 1-D ``y``, ``(k, n, m)`` otherwise.
        """
        if not hasattr(self, "weights_"):
            raise RuntimeError("MLPEnsemble is not fitted; call fit(X, y) first")
        Xa = np.asarray(X, dtype=float)
        if Xa.ndim != 2 or Xa.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n, {self.n_features_in_}), got {Xa.shape}")
        Xt = torch.as_tensor(
            (Xa - self._x_mean) / self._x_std, dtype=torch.float32, device=self.device_
        )
        with torch.no_grad(), torch_threads(self.n_jobs):
            out = _forward(Xt, self.weights_, self.biases_).cpu().numpy().astype(float)
        out = out * self._y_std + self._y_mean
        return out[:, :, 0] if self._y_ndim == 1 else out

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Members' mean and std at ``X`` ``(n, d)``: ``(n,)`` or ``(n, m)`` each.

        The std (``ddof=1``, 0 for a single member) is the spread across
        members only: epistemic uncertainty, no observation noise.
        """
        P = self.predict_members(X)
        mean = P.mean(axis=0)
        std = P.std(axis=0, ddof=1) if len(P) > 1 else np.zeros_like(mean)
        return mean, std

    def __repr__(self) -> str:
        return (
            f"MLPEnsemble(n_members={self.n_members}, hidden={self.hidden}, "
            f"epochs={self.epochs}, lr={self.lr}, weight_decay={self.weight_decay}, "
            f"seed={self.seed}, device={self.device!r}, n_jobs={self.n_jobs})"
        )


def _forward(
    X: torch.Tensor, weights: list[torch.Tensor], biases: list[torch.Tensor]
) -> torch.Tensor:
    """Shared input ``X`` ``(n, d)`` through every member -> ``(k, n, m)``."""
    h = torch.einsum("nd,kdh->knh", X, weights[0]) + biases[0]
    for W, b in zip(weights[1:], biases[1:], strict=True):
        h = torch.baddbmm(b, torch.nn.functional.silu(h), W)
    return h


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
