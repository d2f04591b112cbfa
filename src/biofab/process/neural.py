"""Pure neural ODE of a bioreactor: the baseline that a hybrid model must beat.

:class:`NeuralODE` learns ``dx/dt = NN(φ(x, u))`` for every concentration state with no
balance, yield or dilution term (Chen et al. 2018, NeurIPS, "Neural ordinary differential
equations"); only the volume keeps ``dV/dt = F``, which is bookkeeping of the recipe rather
than kinetics. It shares the solver, the training through the ODE, the ensemble and the
prediction API of :class:`~biofab.process.hybrid.HybridModel` (see that module), so the
comparison isolates what the mechanistic structure brings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from biofab.process.hybrid import OdeEnsemble, _Prepared
from biofab.process.models import EColiFedBatch, ProcessModel

__all__ = ["NeuralODE"]


class NeuralODE(OdeEnsemble):
    """Black-box neural ODE on the states of ``template`` (which only supplies names,
    units, inputs and the volume state; none of its kinetics or balances are used).

    Each derivative is ``NN_i(φ) · s_i / τ`` with ``s_i`` the state's scale and ``τ`` (h) a
    time scale (a quarter of the longest batch), so outputs of order one span the data.
    Default features: every non-frozen state and every input (the feed rate included).
    Other parameters as for :class:`~biofab.process.hybrid.HybridModel`.
    """

    progress_label = "neural ODE"

    def __init__(
        self,
        template: ProcessModel | None = None,
        *,
        hidden: Sequence[int] = (32, 32),
        ensemble: int = 5,
        epochs: int = 300,
        lr: float = 1e-2,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("physics_weight", 0.0)
        super().__init__(hidden=hidden, ensemble=ensemble, epochs=epochs, lr=lr, **kwargs)
        self.template = template if template is not None else EColiFedBatch()
        self.model = self.template

    def _learned_states(self) -> list[int]:
        m = self.model
        return [
            i
            for i, s in enumerate(m.states)
            if s != m.volume_state and s not in getattr(self, "frozen_", [])
        ]

    def _n_outputs(self) -> int:
        return len(self._learned_states())

    def _default_features(self) -> list[str]:
        m = self.model
        return [s for s in m.states if s not in self.frozen_] + list(m.inputs)

    def _setup(self, prep: _Prepared) -> None:
        m = self.model
        idx = self._learned_states()
        tau = max(prep.n_steps * self.dt / 4.0, self.dt)
        self._idx = torch.tensor(idx, dtype=torch.long, device=self.device_)
        self._out_scale = self._scale_t[self._idx] / tau
        self._iv = m.states.index(m.volume_state)
        self._iF = m.inputs.index("F") if "F" in m.inputs else None

    def _derivative(self, x: torch.Tensor, u: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        dx = torch.zeros_like(x)
        dx[..., self._idx] = out * self._out_scale
        if self._iF is not None:
            dx[..., self._iv] = u[..., self._iF].expand_as(x[..., 0])
        return dx

    def __repr__(self) -> str:
        return (
            f"NeuralODE({type(self.template).__name__}, hidden={self.hidden}, "
            f"ensemble={self.ensemble}, device={self.device!r})"
        )
