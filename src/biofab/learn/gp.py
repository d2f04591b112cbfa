"""``GPSurrogate``: an exact Gaussian process (BoTorch ``SingleTaskGP``) over the encoding."""

from __future__ import annotations

import math
from typing import Self

import numpy as np
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import MaternKernel, RBFKernel
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import LogNormalPrior

from biofab.core.errors import NotEnoughDataError
from biofab.learn.state import SurrogateState
from biofab.learn.surrogate import check_xy
from biofab.learn.torch_threads import torch_threads

DTYPE = torch.float64
#: Kernels ``GPSurrogate(kernel=...)`` accepts.
KERNELS = ("rbf", "matern52")
#: Output warps ``GPSurrogate(output_warp=...)`` accepts (None: no warp).
OUTPUT_WARPS = ("yeo-johnson",)
#: Rows per posterior call in ``predict``.
PREDICT_BLOCK = 256


class GPSurrogate:
    """Exact GP regression with fitted hyper-parameters, one independent GP per output.

    The model is BoTorch's ``SingleTaskGP`` (an ARD kernel with BoTorch's default
    dimension-scaled length-scale prior, Hvarfner et al. 2024) with a
    ``Normalize`` input transform and a
    ``Standardize`` outcome transform; hyper-parameters maximise the exact
    marginal likelihood (``fit_gpytorch_mll``). Everything runs in float64 on
    the CPU, where exact GPs on a few hundred rows are fastest anyway.

    Parameters
    ----------
    fixed_noise:
        How observation noise is modelled. ``None`` (default): use ``yvar`` as
        the known noise of each value when ``fit`` receives it, otherwise infer
        one homoscedastic noise level per output. ``True``: ``yvar`` is
        required. ``False``: ignore ``yvar`` and always infer the noise.
    seed:
        Seeds torch's RNG for the fit (only used when the optimiser restarts
        from hyper-parameters drawn from their priors), inside a forked RNG so
        the caller's global torch state is left untouched. ``None`` leaves the
        RNG alone.
    bounds:
        Array ``(2, d)`` of lower and upper bounds of ``X`` handed to
        ``Normalize``; ``None`` means the unit cube of a space's encoding. Fixed
        bounds rather than bounds learnt from the training rows keep the
        lengthscale priors, which assume the unit cube, meaningful when the
        data cluster in a corner of the space.
    n_jobs:
        Torch CPU threads while fitting and predicting (see
        :func:`biofab.learn.torch_threads.torch_threads`); None leaves torch's setting.
        Acquisition functions that use ``posterior_model`` run outside it.
    extra_noise:
        With ``yvar``, also learn one homoscedastic noise level added to it
        (default True). Replicate variance measures only the scatter between
        wells of one plate; plate-to-plate and day-to-day effects add noise it
        does not see, and treating it as the whole noise makes the GP chase
        batch effects. False trusts ``yvar`` as the complete noise.
    noise_floor:
        Smallest noise variance accepted from ``yvar``, as a fraction of each
        output's sample variance: exact zeros (e.g. a single replicate reported
        as variance 0) would make the kernel matrix singular.
    warm_start:
        Hyper-parameters to start the optimiser from (``hyperparameters()`` of
        a GP fitted on similar data, e.g. all rows when this one is fitted on a
        cross-validation fold); entries whose shape does not match are ignored.
        Starting near the optimum makes a fold's fit several times cheaper.
    max_iter:
        Cap on the optimiser's iterations (None: BoTorch's default). With
        inferred noise in 50+ dimensions an unbounded fit can take hundreds
        of iterations for a negligible gain in likelihood.
    kernel:
        ``"rbf"`` (default, BoTorch's) or ``"matern52"``: the Matern-5/2 kernel,
        with the same dimension-scaled length-scale prior. Matern-5/2 assumes a
        twice-differentiable response rather than an infinitely smooth one,
        so a few rows far apart are not extrapolated as a single smooth bump.
    ard:
        One length-scale per input (default, automatic relevance determination)
        or a single one shared by all inputs (False). Both use the same
        dimension-scaled prior: distances in the unit cube grow like
        ``sqrt(d)`` whether or not the scales are shared. With few rows in
        many dimensions (20 in 13), ``d`` length-scales fitted from ``n`` rows
        over-fit, and one shared scale can rank unseen designs better; the
        default recommender lets cross-validation choose (see
        :class:`~biofab.learn.recommenders.AutoRecommender`).
    output_warp:
        None (default) or ``"yeo-johnson"``: each output is standardised and
        then Yeo-Johnson-transformed (the power ``lambda`` by maximum likelihood,
        kept in [0, 2] so that the map is a bijection of the real line) before
        the GP sees it, as HEBO does (Cowen-Rivers et al. 2022): a skewed
        response (a few high yields among many low ones) becomes closer to the
        Gaussian the GP assumes. ``yvar`` is mapped by the transform's slope
        (delta method). ``posterior_model`` (what acquisitions rank with) stays
        in warped units, which keeps the order of designs; ``predict`` maps
        back: the mean is the back-transformed posterior mean (a median in
        ``y``'s units) and the std is divided by the slope there.

    Attributes
    ----------
    model_ : SingleTaskGP
        The fitted BoTorch model (in eval mode). Inputs ``(..., q, d)`` float64;
        for ``m > 1`` outputs it is batched internally over outputs.
    n_outputs_ : int
        Number of outputs ``m`` (1 for 1-D ``y``).
    n_features_in_ : int
        Width ``d`` of ``X``.
    uses_yvar_ : bool
        Whether the fit treated ``yvar`` as known observation noise.
    bic_ : float
        Bayesian information criterion of the fit (lower is better):
        ``-2 log p(y | theta) + k log n`` at the fitted hyper-parameters
        ``theta`` (``k`` of them; on the standardised outputs), Schwarz's
        approximation of ``-2`` log evidence. It compares models of the same
        rows, e.g. ``ard=True`` against ``ard=False``.
    """

    def __init__(
        self,
        fixed_noise: bool | None = None,
        seed: int | None = 0,
        bounds: np.ndarray | None = None,
        noise_floor: float = 1e-5,
        n_jobs: int | None = 1,
        extra_noise: bool = True,
        warm_start: dict[str, np.ndarray] | None = None,
        max_iter: int | None = None,
        kernel: str = "rbf",
        output_warp: str | None = None,
        ard: bool = True,
    ) -> None:
        self.kernel = kernel
        self.ard = ard
        self.output_warp = output_warp
        self.extra_noise = extra_noise
        self.fixed_noise = fixed_noise
        self.seed = seed
        self.bounds = bounds
        self.noise_floor = noise_floor
        self.n_jobs = n_jobs
        self.warm_start = warm_start
        self.max_iter = max_iter

    # -- learning ------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, yvar: np.ndarray | None = None) -> Self:
        """Fit hyper-parameters on ``X`` ``(n, d)``, ``y`` ``(n,)`` or ``(n, m)``.

        ``yvar`` has ``y``'s shape and holds each value's observation-noise
        variance (e.g. the variance of the replicate mean); it is passed to
        ``SingleTaskGP`` as ``train_Yvar`` unless ``fixed_noise`` is False.
        Raises ``NotEnoughDataError`` for fewer than 2 rows.
        """
        X2, Y2, V2 = check_xy(X, y, yvar)
        n, d = X2.shape
        if n < 2:
            raise NotEnoughDataError(f"a Gaussian process needs at least 2 measurements, got {n}")
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {self.kernel!r}")
        if self.output_warp is not None and self.output_warp not in OUTPUT_WARPS:
            raise ValueError(
                f"output_warp must be None or one of {OUTPUT_WARPS}, got {self.output_warp!r}"
            )
        if self.fixed_noise is True and V2 is None:
            raise ValueError("fixed_noise=True needs yvar, the variance of each value")
        use_yvar = V2 is not None and self.fixed_noise is not False
        warp = None
        if self.output_warp is not None:
            warp = fit_warp(Y2)
            if V2 is not None:
                V2 = V2 * (warp_slope(Y2, warp) ** 2)
            Y2 = apply_warp(Y2, warp)

        train_X = torch.tensor(X2, dtype=DTYPE)
        train_Y = torch.tensor(Y2, dtype=DTYPE)
        train_Yvar = None
        if use_yvar and V2 is not None:
            scale = np.var(Y2, axis=0)
            floor = self.noise_floor * np.where(scale > 0, scale, 1.0)
            train_Yvar = torch.as_tensor(np.maximum(V2, floor), dtype=DTYPE)

        if self.bounds is None:
            bounds = np.vstack([np.zeros(d), np.ones(d)])
        else:
            bounds = np.asarray(self.bounds, dtype=float)
        if bounds.shape != (2, d):
            raise ValueError(f"bounds must have shape (2, {d}), got {bounds.shape}")

        with torch_threads(self.n_jobs):
            model = self._build_model(train_X, train_Y, train_Yvar, bounds)
            if self.warm_start:
                _load_hyperparameters(model, self.warm_start)
            mll = ExactMarginalLogLikelihood(model.likelihood, model)
            options = {} if self.max_iter is None else {"options": {"maxiter": self.max_iter}}
            with torch.random.fork_rng():
                if self.seed is not None:
                    torch.manual_seed(self.seed)
                fit_gpytorch_mll(mll, optimizer_kwargs=options)
            self.bic_ = _bic(model)
            model.eval()

        self.model_ = model
        self.n_outputs_ = Y2.shape[1]
        self.n_features_in_ = d
        self.uses_yvar_ = use_yvar
        self._y_ndim = np.ndim(y)
        self.warp_ = warp
        # The exact training tensors: a saved GP is rebuilt from them (see get_state).
        self._train = (train_X, train_Y, train_Yvar, bounds)
        return self

    def _build_model(
        self,
        train_X: torch.Tensor,
        train_Y: torch.Tensor,
        train_Yvar: torch.Tensor | None,
        bounds: np.ndarray,
    ) -> SingleTaskGP:
        """The unfitted model on ``train_X`` ``(n, d)``, ``train_Y``, ``train_Yvar`` ``(n, m)``."""
        d, m = train_X.shape[-1], train_Y.shape[-1]
        covar = None
        # One output: no batch; m outputs: SingleTaskGP batches the kernel over them.
        batch = torch.Size([]) if m == 1 else torch.Size([m])
        if not self.ard:
            covar = _isotropic_kernel(d, batch, self.kernel)
        elif self.kernel == "matern52":
            covar = get_covar_module_with_dim_scaled_prior(
                ard_num_dims=d, batch_shape=batch, use_rbf_kernel=False
            )
        model = SingleTaskGP(
            train_X,
            train_Y,
            train_Yvar=train_Yvar,
            covar_module=covar,
            input_transform=Normalize(d=d, bounds=torch.as_tensor(bounds, dtype=DTYPE)),
            outcome_transform=Standardize(m=m),
        )
        if train_Yvar is not None and self.extra_noise:
            # Same (standardised) known noise, plus a learned extra term.
            model.likelihood = FixedNoiseGaussianLikelihood(
                noise=model.likelihood.noise_covar.noise,
                learn_additional_noise=True,
                batch_shape=model._aug_batch_shape,
            )
        return model

    def hyperparameters(self) -> dict[str, np.ndarray]:
        """The fitted kernel, mean and noise parameters (raw, unconstrained), for
        ``warm_start``; the data-dependent transforms are left out."""
        self._check_fitted()
        return {
            k: v.detach().cpu().numpy().copy()
            for k, v in self.model_.state_dict().items()
            if not k.startswith(("input_transform", "outcome_transform"))
            and k.rsplit(".", 1)[-1].startswith("raw_")
        }

    # -- saving --------------------------------------------------------------
    def get_state(self) -> SurrogateState:
        """Hyper-parameters, training tensors and the model's ``state_dict`` as arrays.

        An exact GP's posterior needs its training data, so they are part of
        the state: ``train_X`` ``(n, d)``, ``train_Y`` and (when noise was
        known) ``train_Yvar`` ``(n, m)``, the ``Normalize`` bounds ``(2, d)``,
        and every ``state_dict`` tensor under ``model.<name>``.
        """
        self._check_fitted()
        train_X, train_Y, train_Yvar, bounds = self._train
        arrays = {"train_X": train_X.numpy(), "train_Y": train_Y.numpy(), "fit_bounds": bounds}
        if self.warp_ is not None:
            arrays["warp"] = self.warp_
        if train_Yvar is not None:
            arrays["train_Yvar"] = train_Yvar.numpy()
        if self.bounds is not None:
            arrays["bounds"] = np.asarray(self.bounds, dtype=float)
        for key, tensor in self.model_.state_dict().items():
            arrays[f"model.{key}"] = tensor.detach().cpu().numpy()
        params = {
            "fixed_noise": self.fixed_noise,
            "seed": self.seed,
            "noise_floor": self.noise_floor,
            "n_jobs": self.n_jobs,
            "extra_noise": self.extra_noise,
            "max_iter": self.max_iter,
            "kernel": self.kernel,
            "output_warp": self.output_warp,
            "ard": self.ard,
        }
        fitted = {
            "n_outputs_": self.n_outputs_,
            "n_features_in_": self.n_features_in_,
            "uses_yvar_": self.uses_yvar_,
            "y_ndim": self._y_ndim,
        }
        return SurrogateState(params, fitted, arrays)

    @classmethod
    def from_state(cls, state: SurrogateState) -> Self:
        """The fitted GP that :meth:`get_state` described (same predictions)."""
        a = state.arrays
        gp = cls(**state.params, bounds=a.get("bounds"))
        train_X = torch.from_numpy(a["train_X"].copy())
        train_Y = torch.from_numpy(a["train_Y"].copy())
        yvar = a.get("train_Yvar")
        train_Yvar = None if yvar is None else torch.from_numpy(yvar.copy())
        bounds = np.asarray(a["fit_bounds"], dtype=float)
        with torch_threads(gp.n_jobs):
            model = gp._build_model(train_X, train_Y, train_Yvar, bounds)
            weights = {
                k[len("model.") :]: torch.from_numpy(v.copy())
                for k, v in a.items()
                if k.startswith("model.")
            }
            # The rebuilt transforms already match (same data): BoTorch's default
            # keep_transforms=True would re-standardise the targets and round them.
            model.load_state_dict(weights, strict=True, keep_transforms=False)
            model.eval()
        gp.model_ = model
        gp.n_outputs_ = int(state.fitted["n_outputs_"])
        gp.n_features_in_ = int(state.fitted["n_features_in_"])
        gp.uses_yvar_ = bool(state.fitted["uses_yvar_"])
        gp._y_ndim = int(state.fitted["y_ndim"])
        gp._train = (train_X, train_Y, train_Yvar, bounds)
        gp.warp_ = None if "warp" not in a else np.asarray(a["warp"], dtype=float)
        return gp

    # -- prediction ----------------------------------------------------------
    @property
    def posterior_model(self) -> SingleTaskGP:
        """The fitted BoTorch model, for acquisition functions (``X`` in encoding units)."""
        self._check_fitted()
        return self.model_

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and std of the latent function at ``X`` ``(n, d)``.

        Returns two arrays shaped ``(n,)`` when the model was fitted on 1-D
        ``y`` and ``(n, m)`` otherwise, in ``y``'s units. The std excludes
        observation noise: it is the uncertainty about the true mean at each
        row. Add the noise variance (``yvar`` or the inferred noise) to compare
        with single new measurements.
        """
        self._check_fitted()
        Xa = np.asarray(X, dtype=float)
        if Xa.ndim != 2 or Xa.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n, {self.n_features_in_}), got {Xa.shape}")
        if len(Xa) == 0:
            empty = np.zeros((0, self.n_outputs_))
            return self._shape(empty), self._shape(empty)
        # Only the marginal variances are needed: blocks of PREDICT_BLOCK rows keep the
        # joint covariance small (one t-batch per row instead costs 10x more in
        # kernel broadcasting on a few thousand candidates).
        Xt = torch.as_tensor(Xa, dtype=DTYPE)
        means, variances = [], []
        with torch.no_grad(), torch_threads(self.n_jobs):
            for block in Xt.split(PREDICT_BLOCK):
                post = self.model_.posterior(block, observation_noise=False)
                means.append(post.mean)
                variances.append(post.variance.clamp_min(0.0))
        mean = torch.cat(means).numpy()
        std = np.sqrt(torch.cat(variances).numpy())
        if self.warp_ is not None:
            mean = invert_warp(mean, self.warp_)
            std = std / warp_slope(mean, self.warp_)
        return self._shape(mean), self._shape(std)

    def _shape(self, a: np.ndarray) -> np.ndarray:
        """``(n, m)`` -> ``(n,)`` when the model was fitted on 1-D ``y``."""
        return a[:, 0].copy() if self._y_ndim == 1 else a

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("GPSurrogate is not fitted; call fit(X, y) first")

    def __repr__(self) -> str:
        return (
            f"GPSurrogate(fixed_noise={self.fixed_noise!r}, seed={self.seed!r}, "
            f"noise_floor={self.noise_floor!r}, n_jobs={self.n_jobs!r}, kernel={self.kernel!r})"
        )


def _bic(model: SingleTaskGP) -> float:
    """``-2 log p(y | theta) + k log n`` of a fitted model (see ``GPSurrogate.bic_``)."""
    model.train()
    with torch.no_grad():
        # As the fit's own closure does: the model transforms its training inputs.
        inputs = model.train_inputs
        # The likelihood alone: prior densities of different numbers of parameters are
        # not comparable; the k log n term is what charges for the extra ones.
        dist = model.likelihood(model(*inputs), *inputs)
        loglik = float(dist.log_prob(model.train_targets).sum())
    n = model.train_targets.shape[-1]
    k = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return -2.0 * loglik + k * math.log(n)


def _isotropic_kernel(d: int, batch: torch.Size, kernel: str) -> RBFKernel | MaternKernel:
    """One length-scale for all ``d`` inputs, with BoTorch's dimension-scaled
    log-normal prior (Hvarfner et al. 2024) and its lower bound."""
    prior = LogNormalPrior(loc=math.sqrt(2) + 0.5 * math.log(d), scale=math.sqrt(3))
    constraint = GreaterThan(2.5e-2, transform=None, initial_value=prior.mode)
    if kernel == "matern52":
        return MaternKernel(
            nu=2.5, batch_shape=batch, lengthscale_prior=prior, lengthscale_constraint=constraint
        )
    return RBFKernel(batch_shape=batch, lengthscale_prior=prior, lengthscale_constraint=constraint)


def _load_hyperparameters(model: SingleTaskGP, values: dict[str, np.ndarray]) -> None:
    """Copy the entries of ``values`` whose name and shape match into ``model``."""
    own = model.state_dict()
    matching = {
        k: torch.as_tensor(v, dtype=own[k].dtype)
        for k, v in values.items()
        if k in own and tuple(own[k].shape) == tuple(np.shape(v))
    }
    model.load_state_dict(matching, strict=False)


# -- the Yeo-Johnson output warp ------------------------------------------------------
# A warp is an array (3, m): per output, the centre and scale that standardise it and
# the power lambda of the Yeo-Johnson transform of the standardised values.

#: Range of the Yeo-Johnson power: inside [0, 2] the transform maps the real line onto
#: itself, so every posterior mean has a pre-image in ``y``'s units.
WARP_LAMBDA = (0.0, 2.0)


def fit_warp(Y: np.ndarray) -> np.ndarray:
    """Centre, scale and maximum-likelihood Yeo-Johnson power of each column of ``Y``
    ``(n, m)``, as an array ``(3, m)``; a constant column gets power 1 (no warp)."""
    from scipy.stats import yeojohnson_normmax

    centre = Y.mean(axis=0)
    scale = Y.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    lam = np.ones(Y.shape[1])
    for j in range(Y.shape[1]):
        z = (Y[:, j] - centre[j]) / scale[j]
        if np.ptp(z) > 0:
            lam[j] = float(np.clip(yeojohnson_normmax(z), *WARP_LAMBDA))
    return np.vstack([centre, scale, lam])


def _yj(z: np.ndarray, lam: np.ndarray) -> np.ndarray:
    pos = z >= 0
    out = np.empty_like(z)
    lp = np.broadcast_to(lam, z.shape)
    a, la = z[pos], lp[pos]
    out[pos] = np.where(
        np.abs(la) < 1e-8, np.log1p(a), (np.power(a + 1.0, la) - 1.0) / np.where(la == 0, 1, la)
    )
    b, lb = -z[~pos], 2.0 - lp[~pos]
    out[~pos] = -np.where(
        np.abs(lb) < 1e-8, np.log1p(b), (np.power(b + 1.0, lb) - 1.0) / np.where(lb == 0, 1, lb)
    )
    return out


def _yj_inverse(t: np.ndarray, lam: np.ndarray) -> np.ndarray:
    pos = t >= 0
    out = np.empty_like(t)
    lp = np.broadcast_to(lam, t.shape)
    a, la = t[pos], lp[pos]
    out[pos] = np.where(
        np.abs(la) < 1e-8,
        np.expm1(a),
        np.power(np.maximum(a * la + 1.0, 0.0), 1.0 / np.where(la == 0, 1, la)) - 1.0,
    )
    b, lb = -t[~pos], 2.0 - lp[~pos]
    out[~pos] = -np.where(
        np.abs(lb) < 1e-8,
        np.expm1(b),
        np.power(np.maximum(b * lb + 1.0, 0.0), 1.0 / np.where(lb == 0, 1, lb)) - 1.0,
    )
    return out


def apply_warp(Y: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """``Y`` ``(n, m)`` in warped units."""
    return _yj((Y - warp[0]) / warp[1], warp[2])


def invert_warp(T: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Warped values ``T`` ``(n, m)`` back in ``y``'s units."""
    return warp[0] + warp[1] * _yj_inverse(T, warp[2])


def warp_slope(Y: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Derivative of the warp at ``Y`` ``(n, m)`` (warped units per unit of ``y``)."""
    z = (Y - warp[0]) / warp[1]
    lam = np.broadcast_to(warp[2], z.shape)
    slope = np.where(
        z >= 0, np.power(np.abs(z) + 1.0, lam - 1.0), np.power(np.abs(z) + 1.0, 1.0 - lam)
    )
    return slope / warp[1]
