"""Tokenizers: word level, character level, n-grams, and subword BPE / WordPiece.

Word and character tokenizers are small regular-expression rules. Subword tokenizers are
trained and run by the Hugging Face ``tokenizers`` library (Rust, parallel over a batch) and
saved as its JSON file. Every tokenizer is a callable ``text -> list[str]``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from deeprnn._validation import check_bool, check_choice, check_positive_int
from deeprnn.data._io import atomic_write_text, existing_file, read_text

if TYPE_CHECKING:
    from tokenizers import Tokenizer


def _hf():
    """The Hugging Face ``tokenizers`` package, imported when a subword tokenizer is used (it is
    not needed for the word, character and n-gram tokenizers)."""
    import tokenizers

    return tokenizers


def _parts(hf):
    """The ``tokenizers`` submodules a trainer is assembled from."""
    return hf.decoders, hf.normalizers, hf.pre_tokenizers, hf.trainers


__all__ = [
    "NUM_TOKEN",
    "URL_TOKEN",
    "CharTokenizer",
    "NgramTokenizer",
    "SubwordTokenizer",
    "WordTokenizer",
    "ngrams",
    "normalize_text",
    "train_bpe",
    "train_wordpiece",
]

NUM_TOKEN = "[NUM]"
URL_TOKEN = "[URL]"

# A URL does not end with punctuation that closes the sentence around it ("see x.com, then").
_URL = re.compile(r"(?:https?://|ftp://|www\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)
# Numbers: 42, -3.5, 1,000,000, 1996 (not the digits inside words such as mp3 or 3rd).
_NUM = re.compile(r"(?<![\w.])[+-]?\d+(?:[.,]\d+)*(?![\w])")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?(?!(?:go|eos|unk)>)[a-zA-Z][^<>]{0,200}>")  # not <go>, <eos>, <unk>
_SPECIALS = frozenset({"[NUM]", "[URL]", "[PAD]", "[UNK]", "<go>", "<eos>", "<unk>"})
_SPECIAL = r"\[(?:NUM|URL|PAD|UNK)\]|<(?:go|eos|unk)>"
_WORD = r"\w+(?:['’]\w+)*"
_PATTERNS = {
    "split": re.compile(rf"{_SPECIAL}|{_WORD}|[^\w\s]"),
    "remove": re.compile(rf"{_SPECIAL}|{_WORD}"),
    "keep": re.compile(r"\S+"),
}


def normalize_text(
    text: str, *, numbers: bool = True, urls: bool = True, html: bool = False
) -> str:
    """Replace URLs by ``[URL]`` and numbers by ``[NUM]`` (and optionally drop HTML tags).

    Args:
        text: the input string.
        numbers: map numbers (``42``, ``-3.5``, ``1,000``) to ``[NUM]``; digits inside words
            (``mp3``, ``3rd``) are kept.
        urls: map ``http(s)://``, ``ftp://`` and ``www.`` addresses to ``[URL]``.
        html: replace ``<br />`` by a space and remove other tags (IMDB reviews hold ``<br />``).

    Returns:
        The normalised string.

    Example:
        >>> normalize_text("see www.imdb.com, rated 8.5 in 2009")
        'see [URL], rated [NUM] in [NUM]'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if html:
        text = _HTML_TAG.sub(" ", _HTML_BREAK.sub(" ", text))
    if urls:
        text = _URL.sub(URL_TOKEN, text)
    if numbers:
        text = _NUM.sub(NUM_TOKEN, text)
    return text


class WordTokenizer:
    """Split text into words.

    Args:
        lower: lower-case the text first.
        punctuation: ``"split"``: each punctuation mark is a token of its own (``"fine."`` ->
            ``["fine", "."]``); ``"remove"``: punctuation is dropped (like Keras
            ``text_to_word_sequence``); ``"keep"``: split on whitespace only. Apostrophes
            inside words stay (``"don't"`` is one token) except with ``"keep"`` nothing splits.
        numbers: map numbers to ``[NUM]`` (:func:`normalize_text`).
        urls: map URLs to ``[URL]``.
        html: replace HTML tags such as ``<br />`` by spaces.

    ``[NUM]``, ``[URL]``, ``[PAD]``, ``[UNK]``, ``<go>``, ``<eos>``, ``<unk>`` stay whole.

    Example:
        >>> WordTokenizer()("Don't panic, it's 42!")
        ["don't", 'panic', ',', "it's", '42', '!']
    """

    def __init__(
        self,
        lower: bool = True,
        punctuation: str = "split",
        numbers: bool = False,
        urls: bool = False,
        html: bool = False,
    ):
        self.lower = check_bool("lower", lower)
        self.punctuation = check_choice("punctuation", punctuation, tuple(_PATTERNS))
        self.numbers = check_bool("numbers", numbers)
        self.urls = check_bool("urls", urls)
        self.html = check_bool("html", html)
        self._pattern = _PATTERNS[punctuation]

    def __call__(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if self.numbers or self.urls or self.html:
            text = normalize_text(text, numbers=self.numbers, urls=self.urls, html=self.html)
        tokens = self._pattern.findall(text)
        if self.lower:  # after splitting, so reserved tokens keep their case
            tokens = [t if t in _SPECIALS else t.lower() for t in tokens]
        return tokens

    def tokenize_batch(self, texts: Iterable[str]) -> list[list[str]]:
        return [self(t) for t in texts]

    @staticmethod
    def detokenize(tokens: Sequence[str]) -> str:
        """Join tokens with single spaces (the inverse up to spacing and case)."""
        return " ".join(tokens)

    def __repr__(self) -> str:
        return (
            f"WordTokenizer(lower={self.lower}, punctuation={self.punctuation!r}, "
            f"numbers={self.numbers}, urls={self.urls}, html={self.html})"
        )


class CharTokenizer:
    """Split text into characters (Unicode code points); ``detokenize`` joins them back.

    Args:
        lower: lower-case the text first.
    """

    def __init__(self, lower: bool = False):
        self.lower = check_bool("lower", lower)

    def __call__(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return list(text.lower() if self.lower else text)

    def tokenize_batch(self, texts: Iterable[str]) -> list[list[str]]:
        return [self(t) for t in texts]

    @staticmethod
    def detokenize(tokens: Sequence[str]) -> str:
        return "".join(tokens)

    def __repr__(self) -> str:
        return f"CharTokenizer(lower={self.lower})"


def ngrams(tokens: Sequence[str], n: int, sep: str = " ") -> list[str]:
    """The contiguous n-grams of ``tokens``, each joined by ``sep``.

    Args:
        tokens: L tokens.
        n: n-gram size (positive).
        sep: separator inside an n-gram (``""`` for character n-grams).

    Returns:
        ``max(L - n + 1, 0)`` strings.

    Example:
        >>> ngrams(["a", "b", "c"], 2)
        ['a b', 'b c']
    """
    check_positive_int("n", n)
    return [sep.join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


class NgramTokenizer:
    """Tokens of a base tokenizer plus their n-grams (fastText-style bag of n-grams).

    Args:
        ngram_range: ``(min_n, max_n)``, inclusive; ``(1, 2)`` gives unigrams and bigrams.
        base: tokenizer giving the units (default :class:`WordTokenizer`; pass
            :class:`CharTokenizer` for character n-grams, which then join with ``""``).
        sep: separator inside an n-gram; ``None`` picks ``""`` for characters, else ``" "``.
    """

    def __init__(
        self,
        ngram_range: tuple[int, int] = (1, 2),
        base=None,
        sep: str | None = None,
    ):
        if (
            not isinstance(ngram_range, (tuple, list))
            or len(ngram_range) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in ngram_range)
            or not 1 <= ngram_range[0] <= ngram_range[1]
        ):
            raise ValueError(
                f"ngram_range must be (min_n, max_n) with 1 <= min_n <= max_n, got {ngram_range!r}"
            )
        self.ngram_range = tuple(ngram_range)
        self.base = base if base is not None else WordTokenizer()
        self.sep = sep if sep is not None else ("" if isinstance(self.base, CharTokenizer) else " ")

    def __call__(self, text: str) -> list[str]:
        units = self.base(text)
        out: list[str] = []
        for n in range(self.ngram_range[0], self.ngram_range[1] + 1):
            out.extend(ngrams(units, n, self.sep))
        return out

    def tokenize_batch(self, texts: Iterable[str]) -> list[list[str]]:
        return [self(t) for t in texts]

    def __repr__(self) -> str:
        return f"NgramTokenizer(ngram_range={self.ngram_range}, base={self.base!r})"


DEFAULT_SPECIALS = ("[PAD]", "[UNK]", NUM_TOKEN, URL_TOKEN)


class SubwordTokenizer:
    """A trained Hugging Face ``tokenizers.Tokenizer`` behind deeprnn's tokenizer interface.

    Build one with :func:`train_bpe` or :func:`train_wordpiece`, or :meth:`load` a saved JSON.
    Special tokens (``[PAD]`` = 0, ``[UNK]`` = 1, ``[NUM]``, ``[URL]`` by default) are never
    split, so text normalised by :func:`normalize_text` keeps its placeholders whole.

    Args:
        tokenizer: a ``tokenizers.Tokenizer``.
    """

    def __init__(self, tokenizer: Tokenizer):
        if not isinstance(tokenizer, _hf().Tokenizer):
            raise TypeError(
                f"tokenizer must be a tokenizers.Tokenizer, got {type(tokenizer).__name__}"
            )
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> list[str]:
        """Subword tokens of ``text`` (strings; byte-level BPE shows spaces as ``Ġ``)."""
        return self.tokenizer.encode(text, add_special_tokens=False).tokens

    def tokenize_batch(self, texts: Sequence[str]) -> list[list[str]]:
        return [
            e.tokens for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        ]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of many texts, encoded in parallel."""
        return [e.ids for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int], skip_padding: bool = True) -> str:
        """Text of ``ids``; byte-level BPE gives back the exact input text.

        Args:
            ids: token ids.
            skip_padding: leave out ``[PAD]`` ids (other special tokens are written out).
        """
        ids = [int(i) for i in ids]
        if skip_padding and self.pad_id is not None:
            ids = [i for i in ids if i != self.pad_id]
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def __len__(self) -> int:
        return self.vocab_size

    def token_to_id(self, token: str) -> int | None:
        return self.tokenizer.token_to_id(token)

    def id_to_token(self, index: int) -> str | None:
        return self.tokenizer.id_to_token(index)

    @property
    def pad_id(self) -> int | None:
        return self.tokenizer.token_to_id("[PAD]")

    @property
    def unk_id(self) -> int | None:
        return self.tokenizer.token_to_id("[UNK]")

    def save(self, path: str | os.PathLike) -> None:
        """Write the ``tokenizers`` JSON to ``path`` atomically (temp file + ``os.replace``)."""
        atomic_write_text(path, self.tokenizer.to_str(pretty=True))

    @classmethod
    def load(cls, path: str | os.PathLike) -> SubwordTokenizer:
        """Read a ``tokenizers`` JSON file (saved by :meth:`save` or by ``Tokenizer.save``)."""
        path = existing_file("path", path)
        try:
            return cls(_hf().Tokenizer.from_str(read_text(path)))
        except Exception as e:  # tokenizers raises its own Exception type
            raise ValueError(f"{path}: not a tokenizers JSON file ({e})") from None

    def __repr__(self) -> str:
        model = type(self.tokenizer.model).__name__
        return f"SubwordTokenizer({model}, vocab_size={self.vocab_size})"


def _trainer_args(vocab_size, min_frequency, special_tokens) -> list[str]:
    check_positive_int("vocab_size", vocab_size)
    check_positive_int("min_frequency", min_frequency)
    specials = list(special_tokens)
    if "[UNK]" not in specials:
        raise ValueError(f"special_tokens must contain '[UNK]', got {specials!r}")
    return specials


def _train(tok: Tokenizer, trainer, texts: Iterable[str]) -> SubwordTokenizer:
    if isinstance(texts, str):
        raise TypeError("texts must be an iterable of strings, got a single str")
    tok.train_from_iterator(iter(texts), trainer=trainer)
    if tok.get_vocab_size() <= len(trainer.special_tokens):
        raise ValueError("texts must hold some text to train on, got an empty iterable")
    return SubwordTokenizer(tok)


def train_bpe(
    texts: Iterable[str],
    vocab_size: int = 8000,
    min_frequency: int = 2,
    lowercase: bool = False,
    special_tokens: Sequence[str] = DEFAULT_SPECIALS,
) -> SubwordTokenizer:
    """Train a byte-level BPE tokenizer (GPT-2 style: no unknown characters, exact decoding).

    Args:
        texts: an iterable of strings (a generator is fine; it is read once).
        vocab_size: target vocabulary size, special tokens included.
        min_frequency: a merge needs at least this many occurrences.
        lowercase: lower-case before tokenising (otherwise the text is not normalised at
            all, so that decoding gives back the exact input).
        special_tokens: tokens that get the first ids and are never split; must contain
            ``[UNK]``. Default ``[PAD]`` (0), ``[UNK]`` (1), ``[NUM]``, ``[URL]``.

    Returns:
        A :class:`SubwordTokenizer`.
    """
    specials = _trainer_args(vocab_size, min_frequency, special_tokens)
    hf = _hf()
    decoders, normalizers, pre_tokenizers, trainers = _parts(hf)
    tok = hf.Tokenizer(hf.models.BPE(unk_token="[UNK]"))
    if check_bool("lowercase", lowercase):  # no normalizer otherwise: decoding is exact
        tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    return _train(tok, trainer, texts)


def train_wordpiece(
    texts: Iterable[str],
    vocab_size: int = 8000,
    min_frequency: int = 2,
    lowercase: bool = True,
    special_tokens: Sequence[str] = DEFAULT_SPECIALS,
) -> SubwordTokenizer:
    """Train a BERT-style WordPiece tokenizer (continuation pieces start with ``##``).

    Text is cleaned and split on whitespace and punctuation (BERT's pre-tokenizer); decoding
    gives the pre-tokens joined by single spaces. A word with a character never seen in
    training becomes ``[UNK]``.

    Args:
        texts: an iterable of strings (read once).
        vocab_size: target vocabulary size, special tokens included.
        min_frequency: a piece needs at least this many occurrences.
        lowercase: lower-case and strip accents (BERT "uncased").
        special_tokens: as in :func:`train_bpe`.

    Returns:
        A :class:`SubwordTokenizer`.
    """
    specials = _trainer_args(vocab_size, min_frequency, special_tokens)
    hf = _hf()
    decoders, normalizers, pre_tokenizers, trainers = _parts(hf)
    tok = hf.Tokenizer(hf.models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=check_bool("lowercase", lowercase))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=specials,
        continuing_subword_prefix="##",
        show_progress=False,
    )
    return _train(tok, trainer, texts)
