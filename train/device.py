"""Which torch device a trainer runs on: ``auto`` (a GPU when one is present, else the CPU), ``cpu`` or ``cuda``.

The networks are small MLPs, so a GPU speeds up the updates (large minibatches) more than the rollouts
(one forward pass per env step). A GPU computes what the CPU does within float tolerance, not bit for
bit, and draws its own random numbers (a trainer sampling actions on it plays other episodes): a run
that must reproduce exported weights exactly names ``cpu``.
"""

from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda")


class DeviceError(ValueError):
    """A device was asked for that is unknown or not present on this machine."""


def pick_device(name: str) -> torch.device:
    """The torch device for ``name`` (one of DEVICES); DeviceError for another name or ``cuda`` without CUDA."""
    if name not in DEVICES:
        raise DeviceError(f"device {name!r} is unknown; expected one of {', '.join(map(repr, DEVICES))}")
    cuda = torch.cuda.is_available()
    if name == "cuda" and not cuda:
        raise DeviceError(f"device 'cuda' was asked for, but torch {torch.__version__} sees no CUDA GPU on this machine; use 'cpu' or 'auto'")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and cuda) else "cpu")
