"""Word, character and n-gram tokenizers, normalisation, and trained BPE / WordPiece."""

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeprnn.data import (
    CharTokenizer,
    NgramTokenizer,
    SubwordTokenizer,
    WordTokenizer,
    ngrams,
    normalize_text,
    train_bpe,
    train_wordpiece,
)

CORPUS = [
    "The movie was great, really great!",
    "I didn't like the ending... it's too long.",
    "Rated 8.5 out of 10 on www.imdb.com, see https://example.org/x?y=1",
    "Lower the volume; the music is LOUD.",
    "A long, long time ago in 1977 a film came out.",
] * 20


def test_normalize_text_numbers_and_urls():
    assert (
        normalize_text("see www.imdb.com, rated 8.5 in 2009") == "see [URL], rated [NUM] in [NUM]"
    )
    assert normalize_text("https://a.b/c?d=1 and http://x.y") == "[URL] and [URL]"
    assert normalize_text("1,000,000 people; -3.5 degrees") == "[NUM] people; [NUM] degrees"
    assert normalize_text("mp3 players of the 3rd kind") == "mp3 players of the 3rd kind"
    assert normalize_text("a<br /><br />b", numbers=False, urls=False, html=True) == "a  b"
    assert normalize_text("42", numbers=False) == "42"
    assert normalize_text("<i>x</i> <eos>", html=True) == " x  <eos>"
    with pytest.raises(TypeError, match="text must be a str, got int"):
        normalize_text(3)


def test_word_tokenizer_punctuation_rules():
    text = "Don't panic, it's 42!"
    assert WordTokenizer()(text) == ["don't", "panic", ",", "it's", "42", "!"]
    assert WordTokenizer(punctuation="remove")(text) == ["don't", "panic", "it's", "42"]
    assert WordTokenizer(punctuation="keep")(text) == ["don't", "panic,", "it's", "42!"]
    assert WordTokenizer(lower=False)("Hello World") == ["Hello", "World"]
    assert WordTokenizer(numbers=True, urls=True)("Visit www.x.com in 2024!") == [
        "visit",
        "[URL]",
        "in",
        "[NUM]",
        "!",
    ]
    assert WordTokenizer(html=True)("Bad.<br /><br />Very bad.") == ["bad", ".", "very", "bad", "."]
    # reserved tokens are never split
    assert WordTokenizer()("<go> hi <eos> [PAD]") == ["<go>", "hi", "<eos>", "[PAD]"]
    assert WordTokenizer().tokenize_batch(["a b", "c"]) == [["a", "b"], ["c"]]
    with pytest.raises(
        ValueError, match=r"punctuation must be one of \['split', 'remove', 'keep'\], got 'drop'"
    ):
        WordTokenizer(punctuation="drop")
    with pytest.raises(TypeError, match="text must be a str, got list"):
        WordTokenizer()(["a"])


@given(st.text(alphabet=string.ascii_letters + string.digits + " .,!?;'-\n", max_size=80))
def test_word_tokenizer_is_idempotent(text):
    tok = WordTokenizer()
    tokens = tok(text)
    assert tok(tok.detokenize(tokens)) == tokens
    assert all(t and not any(c.isspace() for c in t) for t in tokens)


@given(st.text(max_size=60))
def test_char_tokenizer_round_trip(text):
    tok = CharTokenizer()
    assert tok.detokenize(tok(text)) == text
    assert CharTokenizer(lower=True)("AbC") == ["a", "b", "c"]


def test_ngrams():
    assert ngrams(["a", "b", "c"], 2) == ["a b", "b c"]
    assert ngrams(["a"], 2) == []
    assert NgramTokenizer((1, 2))("the cat sat") == ["the", "cat", "sat", "the cat", "cat sat"]
    assert NgramTokenizer((2, 3), base=CharTokenizer())("abcd") == ["ab", "bc", "cd", "abc", "bcd"]
    with pytest.raises(ValueError, match=r"ngram_range must be \(min_n, max_n\) .* got \(2, 1\)"):
        NgramTokenizer((2, 1))
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        ngrams(["a"], 0)


@pytest.fixture(scope="module")
def bpe():
    return train_bpe(iter(CORPUS), vocab_size=400, min_frequency=2)


@pytest.fixture(scope="module")
def wordpiece():
    return train_wordpiece(CORPUS, vocab_size=300, min_frequency=1)


def test_bpe_trains_from_an_iterator_and_reserves_ids(bpe):
    assert isinstance(bpe, SubwordTokenizer)
    assert bpe.pad_id == 0 and bpe.unk_id == 1 and bpe.token_to_id("[NUM]") == 2
    assert 256 < bpe.vocab_size <= 400
    toks = bpe("I like the movie")
    assert "Ġthe" in toks and "Ġmovie" in toks  # frequent words became single pieces
    # placeholders of normalize_text stay whole
    assert "[NUM]" in bpe(normalize_text("rated 9 of 10"))


@settings(max_examples=25)
@given(st.text(max_size=60))
def test_bpe_round_trip_is_exact(bpe, text):
    assert bpe.decode(bpe.encode(text)) == text


def test_wordpiece_round_trip(wordpiece):
    assert wordpiece.pad_id == 0 and wordpiece.unk_id == 1
    text = "The ending was too long, really."
    tokens = wordpiece(text)
    assert all(t == t.lower() for t in tokens)
    assert wordpiece.decode(wordpiece.encode(text)) == "the ending was too long , really ."
    # an unseen character makes its word unknown
    assert "[UNK]" in wordpiece("ok \u4e2d")


def test_subword_save_load(tmp_path, bpe, wordpiece):
    for tok, name in ((bpe, "bpe.json"), (wordpiece, "wp.json")):
        path = tmp_path / "sub" / name
        tok.save(path)
        assert path.is_file() and not list(path.parent.glob("*.tmp"))
        again = SubwordTokenizer.load(path)
        assert again.vocab_size == tok.vocab_size
        assert again.encode_batch(CORPUS[:5]) == tok.encode_batch(CORPUS[:5])
        assert again.tokenize_batch(CORPUS[:2]) == [tok(t) for t in CORPUS[:2]]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"bad.json: not a tokenizers JSON file"):
        SubwordTokenizer.load(bad)


def test_subword_training_errors():
    with pytest.raises(ValueError, match="vocab_size must be a positive int, got 0"):
        train_bpe(CORPUS, vocab_size=0)
    with pytest.raises(ValueError, match=r"special_tokens must contain '\[UNK\]'"):
        train_wordpiece(CORPUS, special_tokens=["[PAD]"])
    with pytest.raises(TypeError, match="texts must be an iterable of strings, got a single str"):
        train_bpe("just one string")
    with pytest.raises(ValueError, match="texts must hold some text to train on"):
        train_wordpiece([], vocab_size=50)


@settings(max_examples=25)
@given(st.text(alphabet="abcdefghilmnorstuvwyTIL .,!'", max_size=60))
def test_wordpiece_round_trip_to_pre_tokens(wordpiece, text):
    inner = wordpiece.tokenizer
    words = [
        w for w, _ in inner.pre_tokenizer.pre_tokenize_str(inner.normalizer.normalize_str(text))
    ]
    ids = wordpiece.encode(text)
    if wordpiece.unk_id not in ids:
        assert wordpiece.decode(ids) == " ".join(words)


def test_importing_deeprnn_does_not_import_hugging_face_tokenizers():
    """``tokenizers`` (and its hub client) loads only when a subword tokenizer is used."""
    import subprocess
    import sys

    code = (
        "import sys, deeprnn, deeprnn.data, deeprnn.tasks, deeprnn.cli; "
        "deeprnn.cli.build_parser(); "
        "print('tokenizers' in sys.modules, 'huggingface_hub' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"], out.stdout + out.stderr
