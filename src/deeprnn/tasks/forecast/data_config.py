"""The ``data`` keys of ``task: forecast``: :class:`ForecastDataConfig` and its checks at the
boundary; what they do is in :mod:`deeprnn.tasks.forecast.data`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from deeprnn._validation import check_choice, check_positive_int
from deeprnn.data.series_io import FILL_POLICIES
from deeprnn.tasks.forecast.columns import MASK
from deeprnn.tasks.forecast.series import SCALERS
from deeprnn.tasks.forecast.splits import iso_date, row_range, split_kind
from deeprnn.tasks.forecast.tables import TIME_FEATURES
from deeprnn.tasks.forecast.windows import SAMPLING


@dataclass
class ForecastDataConfig:
    """Series, windows and scaling for :class:`~deeprnn.tasks.Forecast`."""

    source: Literal["sines", "csv", "reader"] = "sines"
    path: str | None = None
    header: bool = True
    targets: list[str | int] = field(default_factory=lambda: ["value"])
    covariates: list[str | int] = field(default_factory=list)
    series_column: str | int | None = None
    reader: str | None = None
    reader_args: dict = field(default_factory=dict)
    input_window: int = 50
    horizon: int = 1
    stride: int = 1
    seasonality: int | None = None
    scaler: Literal["standard", "minmax", "none"] = "standard"
    val_fraction: float = 0.2
    test_fraction: float = 0.1
    num_series: int = 10000
    split: dict | None = None
    time_column: str | int | None = None
    rows: int | list[int] | None = None
    dates: list | None = None
    reach_back: bool = True
    fill: str | dict | None = None
    categorical: list[str | int] = field(default_factory=list)
    time_columns: list[str | int] | None = None
    freq: str | None = None
    time_features: list[str] = field(default_factory=list)
    known_covariates: list[str | int] = field(default_factory=list)
    static_covariates: list[str | int] = field(default_factory=list)
    windows_per_epoch: int | None = None
    window_sampling: Literal["length", "series"] = "length"
    series_scaler: Literal["none", "mean", "standard"] = "none"
    cache: str | None = None

    @property
    def has_time(self) -> bool:
        return bool(self.time_column or self.time_columns)

    def validate(self, where: str) -> None:
        check_choice(f"{where}.window_sampling", self.window_sampling, SAMPLING)
        check_choice(f"{where}.series_scaler", self.series_scaler, SCALERS)
        if self.series_scaler != "none" and self.source == "sines":
            raise ValueError(
                f"{where}.series_scaler={self.series_scaler!r} fits each series on its train "
                f"rows: it needs a csv or reader source, got {self.source!r}"
            )
        for name in (
            "input_window",
            "horizon",
            "stride",
            "seasonality",
            "num_series",
            "windows_per_epoch",
        ):
            if getattr(self, name) is not None:
                check_positive_int(f"{where}.{name}", getattr(self, name))
        self._column_names_as_text()
        if self.cache is not None and (self.source != "csv" or not self.path):
            raise ValueError(
                f"{where}.cache keeps a prepared table by its file's fingerprint: it needs "
                f"{where}.source 'csv' with {where}.path (a CSV or Parquet file), got source "
                f"{self.source!r}"
            )
        if not self.header and self.source != "csv":
            raise ValueError(f"{where}.header: false is for source 'csv', got {self.source!r}")
        if not self.targets:
            raise ValueError(f"{where}.targets must name at least one column")
        if isinstance(self.split, dict):  # YAML reads 2017-07-01 as a date: keep JSON-able text
            self.split = {k: iso_date(v) for k, v in self.split.items()}
        if isinstance(self.dates, list):
            self.dates = [iso_date(v) for v in self.dates]
        dated = self.split is not None and split_kind(self.split, f"{where}.split") == "dates"
        if dated and not self.has_time:
            raise ValueError(f"{where}.split by dates needs {where}.time_column")
        if self.time_column and self.time_columns:
            raise ValueError(f"{where}: set {where}.time_column or {where}.time_columns, not both")
        if self.time_columns is not None and not 3 <= len(self.time_columns) <= 6:
            raise ValueError(
                f"{where}.time_columns must name the [year, month, day(, hour, minute, second)] "
                f"columns, got {self.time_columns!r}"
            )
        unknown = [c for c in self.known_covariates if c not in self.covariates]
        if unknown:
            raise ValueError(
                f"{where}.known_covariates: {unknown} are not in {where}.covariates "
                f"({self.covariates})"
            )
        both = [c for c in self.static_covariates if c in self.covariates or c in self.targets]
        if both:
            raise ValueError(
                f"{where}.static_covariates: {both} are also targets or covariates; list each "
                f"column once"
            )
        if self.static_covariates and self.source == "sines":
            raise ValueError(f"{where}.static_covariates needs a csv or reader source")
        if isinstance(self.fill, str):
            if self.fill == MASK:
                raise ValueError(
                    f"{where}.fill 'mask' applies to targets only: give a mapping such as "
                    f"{{{self.targets[0]}: mask}} (and a policy for gappy covariates)"
                )
            check_choice(f"{where}.fill", self.fill, FILL_POLICIES)
        if isinstance(self.fill, dict):
            wrong = [c for c, p in self.fill.items() if p == MASK and c not in self.targets]
            if wrong:
                raise ValueError(
                    f"{where}.fill: 'mask' applies to targets only (the loss skips their gaps), "
                    f"got it for {wrong}; fill covariates with one of {list(FILL_POLICIES)}"
                )
        for name in self.time_features:
            check_choice(f"{where}.time_features", name, list(TIME_FEATURES))
        if self.time_features and not self.has_time:
            raise ValueError(f"{where}.time_features needs {where}.time_column or time_columns")
        if self.freq is not None and not self.has_time:
            raise ValueError(f"{where}.freq needs {where}.time_column or time_columns")
        if self.rows is not None:
            row_range(self.rows, f"{where}.rows")
        if self.dates is not None:
            if not isinstance(self.dates, list) or len(self.dates) != 2:
                raise ValueError(f"{where}.dates must be [start, stop], got {self.dates!r}")
            if not self.has_time:
                raise ValueError(f"{where}.dates needs {where}.time_column")

    def _column_names_as_text(self) -> None:
        """Column names given as ints (``targets: [1]``, a file without a header row: columns
        0, 1, 2 ...) are the table's text column names ``"1"``."""
        for name in (
            "targets",
            "covariates",
            "categorical",
            "known_covariates",
            "static_covariates",
        ):
            setattr(self, name, [str(c) for c in getattr(self, name)])
        if self.time_columns is not None:
            self.time_columns = [str(c) for c in self.time_columns]
        for name in ("series_column", "time_column"):
            if getattr(self, name) is not None:
                setattr(self, name, str(getattr(self, name)))
        if isinstance(self.fill, dict):
            self.fill = {str(c): p for c, p in self.fill.items()}
