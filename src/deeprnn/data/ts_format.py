"""The sktime / UEA-UCR ``.ts`` format: variable-length, multivariate, labelled series.

A file is ``#`` comments, ``@`` headers (``@problemName``, ``@timeStamps``, ``@missing``,
``@univariate``, ``@dimensions``, ``@equalLength``, ``@seriesLength``,
``@classLabel true <labels>`` or ``@targetLabel true``), then ``@data`` and one case a line:
the dimensions separated by ``:``, each a comma-separated list of values (``?`` = missing),
and the class label (or regression target) last.

Shape symbols: N cases, T time steps (per case ``T_n``), D dimensions.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from deeprnn.data._io import DataFormatError, existing_file, read_lines

__all__ = ["TSData", "read_ts"]

_BOOL_HEADERS = ("timestamps", "missing", "univariate", "equallength")
_INT_HEADERS = ("dimensions", "serieslength")
_KNOWN = {"problemname", "classlabel", "targetlabel", "data", *_BOOL_HEADERS, *_INT_HEADERS}


@dataclass
class TSData:
    """Series read from a ``.ts`` file; indexable as ``(series (T_n, D) tensor, target)``.

    Attributes:
        series: N float32 arrays of shape (T_n, D); missing values are NaN.
        labels: class label strings (classification), else empty.
        class_names: the labels declared by ``@classLabel``, in file order.
        label_ids: ``class_names.index(label)`` per case (classification), else empty.
        targets: (N,) float64 regression targets (``@targetLabel true``), else ``None``.
        header: the parsed headers (lower-cased names without ``@``).
        path: the file read.
        skipped: lines not used, by reason (comments and blank lines are not counted).
    """

    series: list[np.ndarray]
    labels: list[str]
    class_names: tuple[str, ...]
    label_ids: list[int]
    targets: np.ndarray | None
    header: dict
    path: str = ""
    skipped: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.series)

    def __getitem__(self, i: int) -> tuple[Tensor, int | float]:
        x = torch.from_numpy(self.series[i])
        if self.targets is not None:
            return x, float(self.targets[i])
        return x, self.label_ids[i] if self.label_ids else -1

    @property
    def num_dimensions(self) -> int:
        return int(self.series[0].shape[1]) if self.series else 0

    @property
    def lengths(self) -> np.ndarray:
        """(N,) int64 series lengths."""
        return np.array([len(s) for s in self.series], dtype=np.int64)

    def padded(
        self, max_len: int | None = None, value: float = 0.0
    ) -> tuple[Tensor, Tensor, Tensor]:
        """All cases post-padded into one tensor.

        Args:
            max_len: T; ``None`` takes the longest case (longer cases raise ``ValueError``).
            value: padding value.

        Returns:
            ``(x, lengths, y)``: x (N, T, D) float32, lengths (N,) long, y (N,) long label ids
            (or float64 targets for regression).
        """
        lengths = self.lengths
        longest = int(lengths.max()) if len(lengths) else 0
        if max_len is None:
            max_len = longest
        elif isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < longest:
            raise ValueError(
                f"max_len must be an int >= the longest case ({longest}), got {max_len!r}"
            )
        x = np.full((len(self.series), max_len, self.num_dimensions), value, dtype=np.float32)
        for i, s in enumerate(self.series):
            x[i, : len(s)] = s  # (T_n, D)
        if self.targets is not None:
            y = torch.from_numpy(self.targets.copy())
        else:
            y = torch.tensor(self.label_ids, dtype=torch.long)
        return torch.from_numpy(x), torch.from_numpy(lengths), y


def _parse_bool(path, lineno: int, name: str, value: str) -> bool:
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise DataFormatError(path, lineno, f"@{name} must be true or false, got {value!r}")
    return v == "true"


def _parse_header(path, lineno: int, line: str, header: dict) -> None:
    parts = line[1:].split(maxsplit=1)
    name = parts[0].lower() if parts else ""
    rest = parts[1].strip() if len(parts) > 1 else ""
    if name not in _KNOWN:
        raise DataFormatError(
            path,
            lineno,
            f"unknown header {line.split()[0]!r} (expected one of "
            f"@problemName, @timeStamps, @missing, @univariate, @dimensions, @equalLength, "
            f"@seriesLength, @classLabel, @targetLabel, @data)",
        )
    if name in header:
        raise DataFormatError(path, lineno, f"header @{parts[0]} appears twice")
    if name in _BOOL_HEADERS:
        header[name] = _parse_bool(path, lineno, parts[0], rest)
    elif name in _INT_HEADERS:
        try:
            header[name] = int(rest)
            if header[name] <= 0:
                raise ValueError
        except ValueError:
            raise DataFormatError(
                path, lineno, f"@{parts[0]} must be a positive int, got {rest!r}"
            ) from None
    elif name == "classlabel":
        words = rest.split()
        if not words:
            raise DataFormatError(path, lineno, "@classLabel needs true or false")
        header[name] = _parse_bool(path, lineno, parts[0], words[0])
        header["classnames"] = tuple(words[1:])
        if header[name] and not words[1:]:
            raise DataFormatError(path, lineno, "@classLabel true must list the class labels")
        if len(set(words[1:])) != len(words[1:]):
            raise DataFormatError(path, lineno, "@classLabel lists a label twice")
    elif name == "targetlabel":
        header[name] = _parse_bool(path, lineno, parts[0], rest)
    elif name == "problemname":
        header[name] = rest
    else:  # @data
        if rest:
            raise DataFormatError(path, lineno, f"@data takes no value, got {rest!r}")
        header[name] = True


def read_ts(path: str | os.PathLike, encoding: str = "utf-8") -> TSData:
    """Read a ``.ts`` file (UEA/UCR archive, sktime).

    Args:
        path: the file (e.g. ``JapaneseVowels_TRAIN.ts``: 270 cases, 12 dimensions, lengths
            7-29, 9 classes).
        encoding: text encoding.

    Returns:
        :class:`TSData`.

    Raises:
        DataFormatError: unknown, repeated or malformed headers, no ``@data`` section, a case
            with the wrong number of dimensions, dimensions of different lengths, a
            non-numeric value, a label not declared by ``@classLabel``, a length other than
            ``@seriesLength``, timestamped data (``@timeStamps true``, not supported), or no
            cases; each names the file and line.
    """
    path = existing_file("path", path)
    lines = read_lines(path, encoding)
    header: dict = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    targets: list[float] = []
    data_line = 0
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not data_line:
            if not line.startswith("@"):
                raise DataFormatError(
                    path,
                    lineno,
                    f"expected a @header or @data before the series, got {line[:40]!r}",
                )
            _parse_header(path, lineno, line, header)
            if header.get("timestamps"):
                raise DataFormatError(path, lineno, "@timeStamps true is not supported")
            if "data" in header:
                data_line = lineno
                has_class = header.get("classlabel", False)
                has_target = header.get("targetlabel", False)
                if has_class and has_target:
                    raise DataFormatError(
                        path, lineno, "both @classLabel and @targetLabel are true"
                    )
                dims = header.get("dimensions", 1 if header.get("univariate") else None)
            continue
        if line.startswith("@"):
            raise DataFormatError(
                path, lineno, f"header {line.split()[0]!r} after @data (line {data_line})"
            )
        parts = line.split(":")
        label = None
        if has_class or has_target:
            label = parts.pop().strip()
        if dims is None:
            dims = len(parts)  # the first case fixes D when no header says it
        if len(parts) != dims:
            raise DataFormatError(path, lineno, f"expected {dims} dimensions, got {len(parts)}")
        try:
            cols = [np.array(p.replace("?", "nan").split(","), dtype=np.float32) for p in parts]
        except ValueError as e:
            raise DataFormatError(path, lineno, f"non-numeric value ({e})") from None
        if len({len(c) for c in cols}) != 1:
            raise DataFormatError(
                path, lineno, f"dimensions have different lengths {[len(c) for c in cols]}"
            )
        n = len(cols[0])
        if header.get("equallength") and "serieslength" in header and n != header["serieslength"]:
            raise DataFormatError(
                path, lineno, f"expected @seriesLength {header['serieslength']} values, got {n}"
            )
        series.append(np.stack(cols, axis=1))  # (T_n, D)
        if has_class:
            if label not in header["classnames"]:
                raise DataFormatError(
                    path,
                    lineno,
                    f"class label {label!r} not declared in @classLabel {list(header['classnames'])}",
                )
            labels.append(label)
        elif has_target:
            try:
                targets.append(float(label))
            except ValueError:
                raise DataFormatError(path, lineno, f"target {label!r} is not a number") from None
    if not data_line:
        raise DataFormatError(path, None, "no @data line found")
    if not series:
        raise DataFormatError(path, None, "empty: no cases after @data")
    class_names = tuple(header.get("classnames", ()))
    index = {c: i for i, c in enumerate(class_names)}
    return TSData(
        series=series,
        labels=labels,
        class_names=class_names,
        label_ids=[index[lab] for lab in labels],
        targets=np.array(targets, dtype=np.float64) if header.get("targetlabel") else None,
        header=header,
        path=str(path),
    )
