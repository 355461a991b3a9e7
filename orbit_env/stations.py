"""Ground stations by name, so scenarios can write ``stations = ["SvalSat", "Troll"]``.

Coordinates: reference/physics.md section 8 (about +-0.1 deg; only SvalSat is checked there against a
source). The four Chinese stations that physics.md s10 names for Three-Body (Kashi, Sanya, Miyun,
Jiamusi) carry no coordinates there; the values below are those of the towns [est].
"""

from __future__ import annotations

from orbit_env.scenario import ScenarioError, Station

STATIONS: dict[str, Station] = {
    s.name: s
    for s in (
        Station("SvalSat", 78.230, 15.408),
        Station("Troll", -72.01, 2.54),
        Station("Tromso", 69.66, 18.94),
        Station("Esrange", 67.88, 21.07),
        Station("Inuvik", 68.32, -133.55),
        Station("Fairbanks", 64.86, -147.85),
        Station("Wallops", 37.94, -75.46),
        Station("Hartebeesthoek", -25.89, 27.69),
        Station("PuntaArenas", -52.94, -70.85),
        Station("Awarua", -46.53, 168.38),
        Station("Singapore", 1.35, 103.82),
        Station("Maspalomas", 27.76, -15.63),
        Station("Kourou", 5.25, -52.80),
        Station("Dongara", -29.05, 115.35),
        Station("Malindi", -2.99, 40.19),
        Station("SouthPoint", 19.01, -155.66),
        Station("Kashi", 39.47, 75.99),  # [est] town coordinates
        Station("Sanya", 18.25, 109.51),  # [est]
        Station("Miyun", 40.38, 116.84),  # [est]
        Station("Jiamusi", 46.80, 130.32),  # [est]
    )
}


def resolve_stations(entries: list, where: str = "scenario") -> list[Station]:
    """Turn a scenario's station list (names or Station tables) into Station objects."""
    out = []
    for i, entry in enumerate(entries):
        if isinstance(entry, Station):
            out.append(entry)
        elif entry in STATIONS:
            out.append(STATIONS[entry])
        else:
            raise ScenarioError(
                f"{where}: ground.stations[{i}] = {entry!r} is not a known station; known: "
                f"{', '.join(STATIONS)} (or give a table {{name, lat_deg, lon_deg}})"
            )
    return out
