"""Data links: seconds to move bytes over an ISL or a ground link, and rates shared by concurrent transfers."""

from __future__ import annotations

import numpy as np


def bytes_per_step(gbps: float, dt_s: float) -> float:
    """Bytes a link of ``gbps`` moves in one step."""
    return gbps * 1e9 / 8.0 * dt_s


def shared_progress(owner, active, n_owners: int, capacity_bytes: float):
    """Bytes each active transfer advances when transfers of one owner share its link equally.

    ``owner``: index of the satellite whose link each transfer uses; ``active``: which transfers move.
    """
    count = np.bincount(owner[active], minlength=n_owners)
    return np.where(active, capacity_bytes / np.maximum(count[owner], 1), 0.0)
