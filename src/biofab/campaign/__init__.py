"""Campaigns: the engine's facade that ties a space, a store and the recommenders."""

from biofab.campaign.campaign import Campaign
from biofab.campaign.results import ResultsFile, parse_results

__all__ = ["Campaign", "ResultsFile", "parse_results"]
