"""The stable ``data.reader`` names of the built-in dataset readers.

A config names a reader as ``"package.module:function"``; the built-in ones keep these names
whatever module they live in. Each lives in the data module of the task it feeds:
:mod:`deeprnn.tasks.classify_data` (``imdb``, ``names``, ``mnist_rows``, ``uea``) and
:mod:`deeprnn.tasks.lm_data` (``imdb_text``, ``names_text``)::

    data:
      source: reader
      reader: deeprnn.tasks.readers:imdb
      reader_args: {path: ../shared/data/imdb/aclImdb_v1.tar.gz, val_fraction: 0.1}
"""

from deeprnn.tasks.classify_data import imdb, mnist_rows, names, uea
from deeprnn.tasks.lm_data import imdb_text, names_text

__all__ = ["imdb", "imdb_text", "mnist_rows", "names", "names_text", "uea"]
