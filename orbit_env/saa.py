"""South Atlantic Anomaly boundaries (physics.md s7) and a vectorised point-in-polygon test.

Vertices are (latitude, east longitude) in degrees, none crossing the antimeridian:

- ``proba-v``: the 33-vertex boundary that minxsscubesat (CU/LASP) ``get_saa_boundary.pro`` traced from
  the PROBA-V EPT 800 keV electron map (2013, 820 km SSO); lat -61.0 .. +4.9, lon -97.5 .. +39.9.
- ``fermi-gbm``: Fermi GBM's 13-vertex ``GbmSaaPolygon5`` (flown July 2010 - June 2022; gdt-fermi
  ``gdt/missions/fermi/gbm/saa.py``, Apache-2.0); lat -30 .. +2, lon -94.3 .. +33.9 (physics.md s7
  quotes +2.5 / -98.5 for the extremes; this polygon's are +2.0 / -94.3). Its -30 deg southern
  edge is Fermi's inclination limit, so it under-covers high-inclination orbits.
- ``box``: lat -50 .. 0, lon -90 .. +40 [est].

The anomaly drifts west (~0.3 deg/yr); these are fixed boundaries, as the missions used them.
"""

from __future__ import annotations

import numpy as np

_PROBA_V_LAT = (
    2.23, 4.397, 4.935, 4.397, -0.252, -4.546, -9.198, -11.701, -15.458, -19.192, -24.538, -28.093,
    -32.007, -36.838, -36.701, -40.809, -45.817, -47.385, -51.141, -57.493, -60.67, -61.028, -61.028,
    -59.039, -59.755, -50.369, -37.355, -25.791, -18.323, -11.188, -4.613, -1.458, 2.098,
)  # fmt: skip
_PROBA_V_LON = (
    -71.679, -59.046, -42.545, -24.567, -13.899, -6.477, 3.396, 13.303, 25.35, 31.701, 36.639, 39.949,
    39.154, 38.359, 39.39, 31.039, 21.443, 12.43, 0.415, -10.949, -22.964, -37.84, -51.819, -68.387,
    -83.229, -96.434, -94.779, -96.434, -97.54, -97.54, -93.431, -82.797, -70.539,
)  # fmt: skip
_FERMI_LAT = (
    -30.0, -19.867, -9.733, 0.4, 2.0, 2.0, -1.0, -6.155, -8.88, -14.22, -18.404, -30.0, -30.0,
)  # fmt: skip
_FERMI_LON = (
    33.9, 12.398, -9.103, -30.605, -38.4, -45.0, -65.0, -84.0, -89.2, -94.3, -94.3, -86.1, 33.9,
)  # fmt: skip

SAA_POLYGONS: dict[str, np.ndarray] = {
    "proba-v": np.column_stack([_PROBA_V_LAT, _PROBA_V_LON]),
    "fermi-gbm": np.column_stack([_FERMI_LAT, _FERMI_LON]),
    "box": np.array([[-50.0, -90.0], [-50.0, 40.0], [0.0, 40.0], [0.0, -90.0]]),
}


def in_polygon(lat_deg: np.ndarray, lon_deg: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd ray test of points (any shape) against a closed (lat, lon) polygon; one pass per edge."""
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon = np.asarray(lon_deg, dtype=np.float64)
    inside = np.zeros(lat.shape, dtype=bool)
    box = (lat >= polygon[:, 0].min()) & (lat <= polygon[:, 0].max())
    box &= (lon >= polygon[:, 1].min()) & (lon <= polygon[:, 1].max())
    la, lo = lat[box], lon[box]
    hit = np.zeros(la.shape, dtype=bool)
    for (y1, x1), (y2, x2) in zip(polygon, np.roll(polygon, -1, axis=0)):
        if y1 == y2:  # a horizontal edge never crosses a horizontal ray
            continue
        crosses = (y1 > la) != (y2 > la)
        hit ^= crosses & (lo < x1 + (la - y1) * (x2 - x1) / (y2 - y1))
    inside[box] = hit
    return inside
