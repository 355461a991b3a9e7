"""Data links: seconds to move bytes over an ISL or a ground link, and rates shared by concurrent transfers."""

from __future__ import annotations

import numpy as np


def bytes_per_step(gbps: float, dt_s: float) -> float:
    """Bytes a link of ``gbps`` moves in one step."""
    return gbps * 1e9 / 8.0 * dt_s


def shared_progress(owner, n_owners: int, capacity_bytes: float):
    """Bytes each transfer advances when the transfers of one owner share its link equally.

    ``owner``: for each moving transfer, the satellite whose link it uses.
    """
    count = np.bincount(owner, minlength=n_owners)
    return capacity_bytes / count[owner]
