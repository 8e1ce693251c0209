"""Predict time for the forecast task: raw CSV rows of a history (and the rows after it) ->
the scaled model inputs, with the forecast steps' time stamps (a mixin of
:class:`~deeprnn.tasks.forecast_data.ForecastData`: it uses its ``artifacts``, ``features`` and
``scaler``)."""

from __future__ import annotations

import numpy as np
import torch

from deeprnn.data import series_io as sio
from deeprnn.tasks._forecast_columns import input_fill, numeric_columns, parse_times, time_columns
from deeprnn.tasks._forecast_scaler import Scaler


def _missing_future(fut, columns: list[str]) -> dict[str, int]:
    """Known covariates without a value in the H future rows: column -> first step (1-based)."""
    out = {}
    for c in columns:
        gaps = np.flatnonzero(fut[c].isna().to_numpy()) if c in fut else [0]
        if len(gaps):
            out[c] = int(gaps[0]) + 1
    return out


class ForecastHistory:
    """``encode_history``: what ``deeprnn predict`` feeds a forecaster."""

    def encode_history(self, records: list):
        """Raw rows (dicts) -> per series ``(id, history (W, F), future covariates (H, C),
        forecast time stamps or None)``. A series' history ends at its last row with a target
        value; rows after it give the future covariates (else they count as 0; calendar
        features come from the forecast time stamps)."""
        import pandas as pd

        art = self.artifacts
        self.scaler = Scaler.from_artifact(art.get("scaler"))
        targets = art["targets"]
        k, w, h = len(targets), art["input_window"], art["horizon"]
        for r in records:
            if not isinstance(r, dict):
                cols = targets + art.get("raw_covariates", art["covariates"])
                raise ValueError(f"forecast inputs are CSV rows with columns {cols}, got {r!r}")
        frame = pd.DataFrame(
            [
                {c: (None if isinstance(v, str) and not v.strip() else v) for c, v in r.items()}
                for r in records
            ]
        )
        lines = np.arange(len(frame)) + 2
        numeric = numeric_columns(art)
        for c in numeric:
            if c not in frame.columns:
                frame[c] = np.nan
            frame[c] = sio.numeric_column(frame[c], c, lines, "--input", c not in targets)
        keys = frame[art["series_column"]].astype(str) if art.get("series_column") else None
        groups = {"0": np.arange(len(frame))}
        if keys is not None:
            groups = {str(g): v for g, v in keys.groupby(keys, sort=False).indices.items()}
        dated = bool(time_columns(art)) and bool(art.get("freq"))
        for sid, index in groups.items():
            g, gl = frame.iloc[index].reset_index(drop=True), lines[index]
            known = np.flatnonzero(g[targets].notna().any(axis=1).to_numpy())
            n_hist = int(known[-1]) + 1 if len(known) else 0
            hist, fut, hl = g.iloc[:n_hist], g.iloc[n_hist : n_hist + h], gl[:n_hist]
            if dated and n_hist:
                hist = hist.assign(__time__=parse_times(hist, art, hl, "--input"))
            if art.get("fill") is None:
                hist, hl = hist.iloc[-w:], hl[-w:]
            where = f"--input series {sid}"
            hist, hl = (
                sio.fill_gaps(hist, numeric, input_fill(art.get("fill")), hl, where)
                if n_hist
                else (hist, hl)
            )
            if len(hist) < w:
                raise ValueError(
                    f"series {sid}: need input_window={w} rows with values, got {len(hist)}"
                )
            hist = hist.iloc[-w:]
            times = None
            if dated:
                times = sio.next_times(hist["__time__"].iloc[-1], art["freq"], h)
            fut = self._future_rows(fut, hist, sid)
            x = np.concatenate(
                [
                    self.features(hist, hist["__time__"].to_numpy() if dated else None),
                    np.nan_to_num(self.features(fut, times), nan=0.0),
                ]
            )
            scaled = self.scaler.transform(x)
            yield sid, torch.from_numpy(scaled[:w]), torch.from_numpy(scaled[w:, k:]), times

    def _future_rows(self, fut, hist, sid: str):
        """The H rows after a history, reindexed to H: static covariates repeated from the
        history, known covariates required (the model reads them); past-only ones may be
        absent."""
        art, h = self.artifacts, self.artifacts["horizon"]
        fut = fut.reset_index(drop=True).reindex(range(h))
        static = art.get("static_covariates") or []
        for c in static:
            fut[c] = hist[c].iloc[-1]
        need = [c for c in art.get("known_covariates") or [] if c not in static]
        missing = _missing_future(fut, need)
        if missing:
            shown = ", ".join(f"{c!r} from step {step}" for c, step in missing.items())
            raise ValueError(
                f"series {sid}: the model reads the future values of data.known_covariates "
                f"{need}: give the {h} rows after the history with them (missing {shown})"
            )
        return fut
