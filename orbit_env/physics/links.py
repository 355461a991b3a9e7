"""Data links: bytes a link moves per step, and a link's rate shared by the transfers that use it.

A link is a resource: a satellite's ground radio, or one of its laser terminals. Transfers on one
resource share its rate equally; separate resources (two terminals) each carry their full rate.
"""

from __future__ import annotations

import numpy as np


def bytes_per_step(gbps: float, dt_s: float) -> float:
    """Bytes a link of ``gbps`` moves in one step."""
    return gbps * 1e9 / 8.0 * dt_s


def shared_progress(owner, n_owners: int, capacity_bytes: float):
    """Bytes each transfer advances when the transfers on one link share its rate equally.

    ``owner``: for each moving transfer, the index (< ``n_owners``) of the link it uses.
    """
    count = np.bincount(owner, minlength=n_owners)
    return capacity_bytes / count[owner]


def terminal_index(sat, term, n_terminals: int):
    """Flat index of laser terminal ``term`` of satellite ``sat`` (the resource an ISL transfer uses)."""
    return np.asarray(sat) * n_terminals + term


def terminals_in_use(sat, term, n_sats: int, n_terminals: int):
    """(n_sats,) number of distinct laser terminals of each satellite carrying at least one transfer."""
    busy = np.zeros(n_sats * n_terminals, bool)
    busy[terminal_index(sat, term, n_terminals)] = True
    return busy.reshape(n_sats, n_terminals).sum(axis=1)
