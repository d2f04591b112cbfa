"""Cell-free (TX-TL) buffer optimisation: published campaigns to replay and learn from."""

from biofab.cellfree.datasets import ReplayData, load_borkowski, load_metis

__all__ = ["ReplayData", "load_borkowski", "load_metis"]
