"""File helpers shared by the readers: errors that name the file and line, strict UTF-8, CSV
frames, JSON (written atomically through :mod:`deeprnn._persist`)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deeprnn._persist import atomic_write_text


class DataFormatError(ValueError):
    """A malformed data file. The message starts with ``path:line:`` (or ``path:`` alone).

    Attributes:
        path: the file that is malformed.
        line: 1-based line number of the offending line, or ``None`` when it is the whole file
            (or a binary file, where ``detail`` gives a byte offset instead).
    """

    def __init__(self, path: str | os.PathLike, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


def as_path(name: str, value) -> Path:
    """Validate a user-given path argument (str or os.PathLike) and return it as a ``Path``."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(value).__name__}")
    return Path(value)


def existing_file(name: str, value) -> Path:
    path = as_path(name, value)
    if not path.is_file():
        raise FileNotFoundError(f"{name}: no such file: {str(path)!r}")
    return path


def decode_utf8(raw: bytes, path: str | os.PathLike, encoding: str = "utf-8") -> str:
    """Decode ``raw`` strictly; on failure raise :class:`DataFormatError` naming the line.

    A leading UTF-8 byte-order mark is removed.
    """
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise DataFormatError(
            path,
            line,
            f"not valid {encoding} text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
            f"pass encoding= if the file uses another encoding",
        ) from None
    return text.removeprefix("\ufeff")


def read_text(path: str | os.PathLike, encoding: str = "utf-8") -> str:
    """Read a whole text file strictly (see :func:`decode_utf8`)."""
    return decode_utf8(Path(path).read_bytes(), path, encoding)


def read_lines(path: str | os.PathLike, encoding: str = "utf-8") -> list[str]:
    """Lines of a text file without their line endings (``\\n``, ``\\r\\n``)."""
    text = read_text(path, encoding)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline does not start another line
    return [ln.removesuffix("\r") for ln in lines]


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=1) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    path = existing_file("path", path)
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise DataFormatError(path, e.lineno, f"invalid JSON: {e.msg}") from None


def read_csv(path: str | Path, name: str = "data.path"):
    """A CSV as a pandas DataFrame; a missing or unreadable file names itself."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{name}: file not found: {path}")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise ValueError(f"{name}: cannot read {path} as CSV: {e}") from e
    if frame.empty:
        raise ValueError(f"{name}: {path} is empty: the file holds a header but no rows")
    return frame


def require_columns(frame, columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{where}: column(s) {missing} not found; columns are {list(frame.columns)}"
        )
