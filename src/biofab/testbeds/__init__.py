"""Testbeds: answer designs the way a lab would, from a replay or a simulator."""

from biofab.core.replay import ReplayTestbed
from biofab.testbeds.sequence_oracle import SigmaPromoterOracle
from biofab.testbeds.synthetic import SyntheticCellFree

__all__ = ["ReplayTestbed", "SigmaPromoterOracle", "SyntheticCellFree"]
