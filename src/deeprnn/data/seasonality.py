"""The season length of a sampling frequency, as the M4 competition and GluonTS define it.

One season is the natural cycle of the frequency: 24 steps for hourly data (a day), 12 for
monthly, 4 for quarterly, 5 for business days, 1440 for minutes, 3600 for seconds; 1 (no
seasonality) for daily, weekly and yearly data, as M4's MASE and GluonTS's
``get_seasonality`` use. A multiple divides the cycle when it can (``15min`` -> 96, ``2h`` ->
12), else the season is 1.
"""

from __future__ import annotations

import re

_FREQ = re.compile(r"^\s*(\d*)\s*([A-Za-z]+)(?:-[A-Za-z]+)?\s*$")  # 15min, QS-OCT, W-SUN

#: base frequency -> season length (M4 / GluonTS)
SEASONS = {"s": 3600, "min": 1440, "h": 24, "D": 1, "B": 5, "W": 1, "M": 12, "Q": 4, "Y": 1}
_ALIASES = {
    "S": "s", "T": "min", "H": "h", "BH": "h", "C": "B", "W": "W",
    "MS": "M", "ME": "M", "BM": "M", "BMS": "M", "BME": "M", "SM": "M", "SMS": "M", "SME": "M",
    "QS": "Q", "QE": "Q", "BQ": "Q", "BQS": "Q", "BQE": "Q",
    "A": "Y", "AS": "Y", "YS": "Y", "YE": "Y", "BA": "Y", "BY": "Y", "BYS": "Y", "BYE": "Y",
}  # fmt: skip


def season_length(freq: str | None) -> int:
    """Steps per season of a pandas frequency string (``"h"``, ``"MS"``, ``"15min"``,
    ``"W-SUN"``, ...); 1 when there is none or it is not known.

    >>> season_length("h"), season_length("MS"), season_length("QS-OCT"), season_length("15min")
    (24, 12, 4, 96)
    """
    match = _FREQ.match(freq or "")
    if match is None:
        return 1
    n = int(match.group(1) or 1) or 1
    base = _ALIASES.get(match.group(2), match.group(2))
    season = SEASONS.get(base, 1)
    return season // n if season % n == 0 else 1
