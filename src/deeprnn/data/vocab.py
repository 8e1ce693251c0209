"""``Vocab``: token <-> id maps with reserved ``[PAD]`` = 0 and ``[UNK]`` = 1."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from deeprnn._validation import check_bool, check_positive_int
from deeprnn.data._io import DataFormatError, atomic_write_json, existing_file, read_json

__all__ = ["EOS", "GO", "PAD", "UNK", "Vocab"]

PAD = "[PAD]"
UNK = "[UNK]"
GO = "<go>"
EOS = "<eos>"

_FORMAT = "deeprnn.Vocab"


class Vocab:
    """A vocabulary: ids ``0..len-1`` for tokens, with reserved tokens first.

    Ids: ``[PAD]`` = 0, ``[UNK]`` = 1, then ``<go>`` = 2 and ``<eos>`` = 3 when
    ``go_eos=True`` (for decoders), then any other ``specials``, then the regular tokens.
    Unknown tokens encode to ``[UNK]``.

    Args:
        tokens: regular tokens in id order (duplicates and reserved tokens are ignored).
        go_eos: reserve ``<go>`` and ``<eos>``.
        specials: more reserved tokens (e.g. ``("[NUM]", "[URL]")``), placed after the others.
        counts: token frequencies kept for reference (saved with the vocab).

    Example:
        >>> v = Vocab.build([["a", "b", "a"], ["c", "a"]], min_freq=2)
        >>> v.encode(["a", "c"]), v.decode([2, 1])
        ([2, 1], ['a', '[UNK]'])
    """

    def __init__(
        self,
        tokens: Iterable[str] = (),
        *,
        go_eos: bool = False,
        specials: Sequence[str] = (),
        counts: Mapping[str, int] | None = None,
    ):
        self.go_eos = check_bool("go_eos", go_eos)
        if isinstance(specials, str):
            raise TypeError(f"specials must be a sequence of str, got the str {specials!r}")
        reserved = [PAD, UNK] + ([GO, EOS] if go_eos else [])
        for s in specials:
            if not isinstance(s, str) or not s:
                raise ValueError(f"specials must hold non-empty strings, got {s!r}")
            if s not in reserved:
                reserved.append(s)
        self.specials: tuple[str, ...] = tuple(reserved)
        self._itos: list[str] = list(reserved)
        self._stoi: dict[str, int] = {t: i for i, t in enumerate(reserved)}
        for t in tokens:
            if not isinstance(t, str):
                raise TypeError(f"tokens must be strings, got {type(t).__name__} {t!r}")
            if t not in self._stoi:
                self._stoi[t] = len(self._itos)
                self._itos.append(t)
        self.counts: Counter[str] = Counter(counts or {})

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Iterable[str]],
        *,
        max_size: int | None = None,
        min_freq: int = 1,
        go_eos: bool = False,
        specials: Sequence[str] = (),
    ) -> Vocab:
        """Count tokens and keep the most frequent ones.

        Args:
            token_lists: an iterable of token sequences (e.g. tokenised sentences).
            max_size: the most regular tokens to keep (reserved tokens not counted); ``None``
                keeps all.
            min_freq: keep tokens seen at least this many times.
            go_eos: reserve ``<go>`` and ``<eos>``.
            specials: more reserved tokens.

        Returns:
            A :class:`Vocab` whose regular tokens are sorted by frequency (descending), ties
            broken by the token string, so the result does not depend on input order.
        """
        if max_size is not None:
            check_positive_int("max_size", max_size)
        check_positive_int("min_freq", min_freq)
        if isinstance(token_lists, str):
            raise TypeError("token_lists must be an iterable of token sequences, got a str")
        counts: Counter[str] = Counter()
        for i, toks in enumerate(token_lists):
            if isinstance(toks, str):
                raise TypeError(
                    f"token_lists[{i}] must be a sequence of tokens, got the str {toks[:40]!r}; "
                    f"tokenise it first"
                )
            counts.update(toks)
        vocab = cls(go_eos=go_eos, specials=specials)
        ranked = sorted(
            (item for item in counts.items() if item[1] >= min_freq and item[0] not in vocab),
            key=lambda item: (-item[1], item[0]),
        )
        if max_size is not None:
            ranked = ranked[:max_size]
        return cls([t for t, _ in ranked], go_eos=go_eos, specials=specials, counts=dict(ranked))

    # ---- lookups ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __getitem__(self, token: str) -> int:
        """The id of ``token`` (``[UNK]``'s id when it is unknown)."""
        return self._stoi.get(token, 1)

    def __iter__(self):
        return iter(self._itos)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self._itos == other._itos

    __hash__ = None  # mutable-looking container

    @property
    def itos(self) -> list[str]:
        """Tokens in id order (a copy)."""
        return list(self._itos)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    @property
    def go_id(self) -> int | None:
        return self._stoi.get(GO) if self.go_eos else None

    @property
    def eos_id(self) -> int | None:
        return self._stoi.get(EOS) if self.go_eos else None

    def token(self, index: int) -> str:
        """The token with id ``index``."""
        if isinstance(index, bool) or not 0 <= int(index) < len(self._itos):
            raise IndexError(f"index must be in [0, {len(self._itos)}), got {index!r}")
        return self._itos[int(index)]

    # ---- encode / decode -------------------------------------------------------------------

    def encode(
        self, tokens: Iterable[str], add_go: bool = False, add_eos: bool = False
    ) -> list[int]:
        """Token ids; unknown tokens give ``unk_id``.

        Args:
            tokens: a sequence of tokens (not a raw string).
            add_go: prepend ``<go>`` (needs ``go_eos=True``).
            add_eos: append ``<eos>`` (needs ``go_eos=True``).
        """
        if isinstance(tokens, str):
            raise TypeError("tokens must be a sequence of tokens, got a str; tokenise it first")
        if (add_go or add_eos) and not self.go_eos:
            raise ValueError("add_go/add_eos need a Vocab built with go_eos=True")
        get = self._stoi.get
        ids = [get(t, 1) for t in tokens]
        if add_go:
            ids.insert(0, self._stoi[GO])
        if add_eos:
            ids.append(self._stoi[EOS])
        return ids

    def decode(
        self, ids: Iterable[int], skip_specials: bool = False, stop_at_eos: bool = False
    ) -> list[str]:
        """Tokens of ``ids``.

        Args:
            ids: token ids (ints, or a 1-D tensor/array).
            skip_specials: leave out ``[PAD]``, ``<go>``, ``<eos>`` and other reserved tokens
                except ``[UNK]``.
            stop_at_eos: stop at the first ``<eos>`` (for decoder outputs).
        """
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        n = len(self._itos)
        skip = {i for i, t in enumerate(self.specials) if t != UNK} if skip_specials else set()
        eos = self.eos_id if stop_at_eos else None
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise IndexError(f"ids must be in [0, {n}), got {i}")
            if i == eos:
                break
            if i not in skip:
                out.append(self._itos[i])
        return out

    # ---- save / load -----------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "format": _FORMAT,
            "version": 1,
            "go_eos": self.go_eos,
            "specials": list(self.specials),
            "tokens": self._itos[len(self.specials) :],
            "counts": dict(self.counts),
        }

    @classmethod
    def from_dict(cls, d: Mapping, source: str = "<dict>") -> Vocab:
        if not isinstance(d, Mapping) or d.get("format") != _FORMAT:
            raise DataFormatError(source, None, f"not a saved Vocab (expected format {_FORMAT!r})")
        specials = list(d["specials"])
        go_eos = bool(d["go_eos"])
        base = [PAD, UNK] + ([GO, EOS] if go_eos else [])
        if specials[: len(base)] != base:
            raise DataFormatError(source, None, f"specials must start with {base}, got {specials}")
        v = cls(d["tokens"], go_eos=go_eos, specials=specials[len(base) :], counts=d.get("counts"))
        if len(v) != len(specials) + len(d["tokens"]):
            raise DataFormatError(source, None, "tokens hold duplicates or reserved tokens")
        return v

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON, atomically (temp file + ``os.replace``)."""
        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocabulary written by :meth:`save`."""
        path = existing_file("path", path)
        return cls.from_dict(read_json(path), source=str(path))

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, specials={list(self.specials)})"


def read_vocab(path: str | Path, name: str = "data.vocab_path") -> list[str]:
    """A vocabulary file written by an export (``vocab.json``: a JSON list of tokens)."""
    path = Path(path)
    if path.is_dir():
        path = path / "vocab.json"
    if not path.is_file():
        raise ValueError(f"{name}: vocabulary file not found: {path}")
    try:
        itos = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{name}: {path} is not valid JSON: {e}") from e
    if not isinstance(itos, list) or not all(isinstance(t, str) for t in itos):
        raise ValueError(f"{name}: {path} must hold a JSON list of token strings")
    return itos
