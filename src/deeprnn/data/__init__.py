"""Data paths into the models: padding and masks, bucketing, tokenizers and vocabularies,
pretrained embeddings, readers for the datasets' standard file formats, time-series windows,
scalers and baselines, and synthetic tasks.

Every reader takes a local path in the dataset's own distributed format and returns a small
dataclass that can be indexed like a map-style dataset and that records, in ``skipped``, what
it did not keep and why. Malformed files raise :class:`DataFormatError` (a ``ValueError``)
naming the file and the line.
"""

from deeprnn.data._io import DataFormatError
from deeprnn.data.baselines import (
    mae,
    mase,
    mse,
    naive_forecast,
    rmse,
    seasonal_naive_forecast,
)
from deeprnn.data.bucketing import (
    BucketBatchSampler,
    PaddingReport,
    padding_fraction,
    padding_report,
)
from deeprnn.data.conll import (
    TaggedData,
    bio_to_iobes,
    iobes_to_bio,
    read_conll,
    tags_to_spans,
    to_bio,
)
from deeprnn.data.embeddings import (
    CoverageReport,
    WordVectors,
    build_embedding_matrix,
    pretrained_embedding,
    read_glove,
    read_word2vec,
)
from deeprnn.data.folders import SPLIT_FOLDERS, read_text_folder, read_text_folder_splits
from deeprnn.data.imdb import IMDB_LABELS, TextClassificationData, read_imdb
from deeprnn.data.mnist import MNISTData, pixel_sequences, read_idx, read_mnist, row_sequences
from deeprnn.data.padding import (
    PadCollate,
    lengths_to_mask,
    mask_to_lengths,
    pad_collate,
    pad_sequences,
)
from deeprnn.data.series_io import FILL_POLICIES, SeriesFrame, read_series
from deeprnn.data.synthetic import (
    adding_problem,
    copy_memory_task,
    first_last_product,
    generate_time_series,
)
from deeprnn.data.text import (
    NamesData,
    ParallelData,
    TextCorpus,
    batchify,
    bptt_batches,
    read_corpus,
    read_names,
    read_parallel,
    unicode_to_ascii,
)
from deeprnn.data.timeseries import Scaler, WindowDataset, sliding_windows, split_by_time
from deeprnn.data.tokenizers import (
    NUM_TOKEN,
    URL_TOKEN,
    CharTokenizer,
    NgramTokenizer,
    SubwordTokenizer,
    WordTokenizer,
    ngrams,
    normalize_text,
    train_bpe,
    train_wordpiece,
)
from deeprnn.data.ts_format import TSData, read_ts
from deeprnn.data.vocab import EOS, GO, PAD, UNK, Vocab

__all__ = [
    "EOS",
    "FILL_POLICIES",
    "GO",
    "IMDB_LABELS",
    "NUM_TOKEN",
    "PAD",
    "SPLIT_FOLDERS",
    "UNK",
    "URL_TOKEN",
    "BucketBatchSampler",
    "CharTokenizer",
    "CoverageReport",
    "DataFormatError",
    "MNISTData",
    "NamesData",
    "NgramTokenizer",
    "PadCollate",
    "PaddingReport",
    "ParallelData",
    "Scaler",
    "SeriesFrame",
    "SubwordTokenizer",
    "TSData",
    "TaggedData",
    "TextClassificationData",
    "TextCorpus",
    "Vocab",
    "WindowDataset",
    "WordTokenizer",
    "WordVectors",
    "adding_problem",
    "batchify",
    "bio_to_iobes",
    "bptt_batches",
    "build_embedding_matrix",
    "copy_memory_task",
    "first_last_product",
    "generate_time_series",
    "iobes_to_bio",
    "lengths_to_mask",
    "mae",
    "mase",
    "mask_to_lengths",
    "mse",
    "naive_forecast",
    "ngrams",
    "normalize_text",
    "pad_collate",
    "pad_sequences",
    "padding_fraction",
    "padding_report",
    "pixel_sequences",
    "pretrained_embedding",
    "read_conll",
    "read_corpus",
    "read_glove",
    "read_idx",
    "read_imdb",
    "read_mnist",
    "read_names",
    "read_parallel",
    "read_series",
    "read_text_folder",
    "read_text_folder_splits",
    "read_ts",
    "read_word2vec",
    "rmse",
    "row_sequences",
    "seasonal_naive_forecast",
    "sliding_windows",
    "split_by_time",
    "tags_to_spans",
    "to_bio",
    "train_bpe",
    "train_wordpiece",
    "unicode_to_ascii",
]
