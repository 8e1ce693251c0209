"""The bad-input catalogue, ``predict_raw`` records: what a tag, lm or forecast model is
given to predict on, each error naming the record and the fields it has and lacks. The shared
runner and the untrained models are in ``_catalogue.py``."""

from __future__ import annotations

from _catalogue import _raw_model, _w, assert_clear_error, cases

from deeprnn._validation import RecordError
from deeprnn.cli.predict import read_records

# (id, call(tmp), exception type, regex on the message)
CASES = [
    # -- predict_raw records (tasks/tag.py, lm.py, forecast.py) -------------------------------
    (
        "tag record without tokens",
        lambda t: _raw_model("tag").predict_raw(["a b", {"words": "a b"}]),
        RecordError,
        r"records\[1\]: a tag model reads the field 'tokens' or 'text', got fields \['words'\]",
    ),
    (
        "tag record not text",
        lambda t: _raw_model("tag").predict_raw([{"tokens": [1, 2]}]),
        RecordError,
        r"records\[0\]: a tag model reads a sentence or a list of token strings, got \[1, 2\]",
    ),
    (
        "lm record without prompt",
        lambda t: _raw_model("lm").predict_raw([{"prompt": "ab"}, {"start": "a"}]),
        RecordError,
        r"records\[1\]: a lm model reads the field 'prompt' or 'text', got fields \['start'\]",
    ),
    (
        "forecast csv without the target column",
        lambda t: _raw_model("forecast").predict_raw(
            read_records(str(_w(t, "h.csv", "x,c\n" + "1,0\n" * 6)), None)
        ),
        RecordError,
        r"records\[0\]: a forecast model reads the fields \['y', 'c'\], missing \['y'\], "
        r"got fields \['c', 'x'\]",
    ),
    (
        "forecast future row without covariate",
        lambda t: _raw_model("forecast").predict_raw([{"y": 10.0, "c": 0.0}] * 5 + [{"y": None}]),
        RecordError,
        r"records\[5\]: a forecast model reads the fields \['c'\], missing \['c'\]",
    ),
    (
        "forecast record not a row",
        lambda t: _raw_model("forecast").predict_raw(["10,0.1"]),
        RecordError,
        r"records\[0\]: a forecast model reads rows with columns \['y', 'c'\], got '10,0\.1'",
    ),
]


@cases(CASES)
def test_bad_input_gives_a_clear_error(tmp_path, what, call, exc, match):
    assert_clear_error(tmp_path, call, exc, match)
