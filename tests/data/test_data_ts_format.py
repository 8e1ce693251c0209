"""The sktime / UEA .ts reader."""

import numpy as np
import pytest
import torch

from deeprnn.data import DataFormatError, read_ts

GOOD = """# a comment
@problemName Toy
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
1,2,3:4,5,6:up
7,?:8,9:down

0.5:1.5:up
"""


def write(tmp_path, text, name="Toy_TRAIN.ts"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_ts_variable_length_multivariate(tmp_path):
    d = read_ts(write(tmp_path, GOOD))
    assert len(d) == 3 and d.num_dimensions == 2
    assert d.lengths.tolist() == [3, 2, 1]
    np.testing.assert_array_equal(d.series[0], [[1, 4], [2, 5], [3, 6]])
    assert np.isnan(d.series[1][1, 0]) and d.series[1][1, 1] == 9
    assert d.labels == ["up", "down", "up"] and d.class_names == ("up", "down")
    assert d.label_ids == [0, 1, 0] and d.targets is None
    assert d.header["problemname"] == "Toy" and d.header["missing"] is True
    x, lengths, y = d.padded()
    assert x.shape == (3, 3, 2) and x.dtype == torch.float32
    assert lengths.tolist() == [3, 2, 1] and y.tolist() == [0, 1, 0]
    assert x[2, 1:].abs().sum() == 0
    item, label = d[0]
    assert item.shape == (3, 2) and label == 0


def test_read_ts_univariate_regression(tmp_path):
    text = "@problemName R\n@univariate true\n@equalLength true\n@seriesLength 3\n@targetLabel true\n@data\n1,2,3:0.5\n4,5,6:1.5\n"
    d = read_ts(write(tmp_path, text))
    assert d.targets.tolist() == [0.5, 1.5] and d.num_dimensions == 1
    assert d[1][1] == 1.5 and d.padded()[2].dtype == torch.float64


@pytest.mark.parametrize(
    "text, match",
    [
        ("@problemName X\n@colour blue\n@data\n", r":2: unknown header '@colour'"),
        ("@missing maybe\n@data\n", r":1: @missing must be true or false, got 'maybe'"),
        ("@dimensions two\n@data\n", r":1: @dimensions must be a positive int, got 'two'"),
        ("@classLabel true\n@data\n", r":1: @classLabel true must list the class labels"),
        ("@univariate true\n@univariate true\n@data\n", r":2: header @univariate appears twice"),
        ("@timeStamps true\n@data\n", r":1: @timeStamps true is not supported"),
        ("@problemName X\n1,2,3\n", r":2: expected a @header or @data before the series"),
        ("@problemName X\n", r"Toy_TRAIN.ts: no @data line found"),
        ("@classLabel true a b\n@data\n", r"Toy_TRAIN.ts: empty: no cases after @data"),
        (
            "@dimensions 2\n@classLabel true a\n@data\n1,2:3,4:a\n1,2:a\n",
            r":5: expected 2 dimensions, got 1",
        ),
        ("@classLabel true a\n@data\n1,2:3:a\n", r":3: dimensions have different lengths \[2, 1\]"),
        ("@classLabel true a\n@data\n1,x:a\n", r":3: non-numeric value"),
        (
            "@classLabel true a b\n@data\n1,2:c\n",
            r":3: class label 'c' not declared in @classLabel \['a', 'b'\]",
        ),
        (
            "@equalLength true\n@seriesLength 3\n@classLabel false\n@data\n1,2\n",
            r":5: expected @seriesLength 3 values, got 2",
        ),
        ("@classLabel false\n@data\n1,2\n@dimensions 1\n", r":4: header '@dimensions' after @data"),
        ("@targetLabel true\n@data\n1,2:big\n", r":3: target 'big' is not a number"),
    ],
)
def test_read_ts_bad_headers_and_rows(tmp_path, text, match):
    with pytest.raises(DataFormatError, match=match):
        read_ts(write(tmp_path, text))


@pytest.mark.data
def test_japanese_vowels(shared_data):
    root = shared_data / "uea" / "JapaneseVowels"
    train = read_ts(root / "JapaneseVowels_TRAIN.ts")
    test = read_ts(root / "JapaneseVowels_TEST.ts")
    assert (len(train), len(test)) == (270, 370)  # Kudo et al. 1999 / UEA archive
    assert train.num_dimensions == test.num_dimensions == 12
    lengths = np.concatenate([train.lengths, test.lengths])
    assert lengths.min() == 7 and lengths.max() == 29
    assert train.class_names == tuple("123456789")
    assert np.bincount(train.label_ids).tolist() == [30] * 9  # 30 utterances per speaker
    x, lengths, y = test.padded()
    assert x.shape == (370, 29, 12) and not torch.isnan(x).any()
    assert lengths.max() == 29 and y.max() == 8
