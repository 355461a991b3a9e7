"""Policies for orbit-env: the Policy protocol and baseline heuristics that read observations by field name."""

from agents.policy import ArrayPolicy, Policy
from agents.heuristics import HEURISTICS, GreedyPolicy, RandomPolicy, make_policy

__all__ = ["ArrayPolicy", "Policy", "HEURISTICS", "GreedyPolicy", "RandomPolicy", "make_policy"]
