"""A validated dataset read batch by batch, streamed: what the profile reads.

:func:`modelrail.profile.build_profile_streamed` asks a :class:`ColumnSource` for the
contract's columns in one streamed pass, a batch at a time. The batches hold what
``pd.read_csv`` / ``pd.read_parquet`` of the whole file would give for those columns,
but for one thing: Parquet by column projection; CSV by pyarrow's streaming reader with
pandas' missing-value markers and the column types fixed up front (a streaming reader
infers types from its first block only), text as Arrow dictionaries, which the profile
types as pandas would from all of the column's distinct values
(:func:`infer_like_pandas`, by :class:`modelrail.profile_stream.ProfileBuilder`).
Pure: no AWS; the caller opens the stream.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import pandas as pd

from modelrail.contract import Column, ColumnType

Opener = Callable[[], BinaryIO]

# pandas' default missing-value markers (modelrail.validation reads CSV the same way)
NA_VALUES = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
# The words pandas' CSV reader itself turns into booleans: what a frame read "as pandas
# would" holds. Which words mean true to modelrail is modelrail.canonical's business.
PANDAS_TRUE = ("True", "TRUE", "true")
PANDAS_FALSE = ("False", "FALSE", "false")
BLOCK_BYTES = 8 * 1024 * 1024
BATCH_ROWS = 100_000


@dataclass(frozen=True)
class Coded:
    """A text column of one batch as codes into its distinct values (-1 for null), each
    used: what ``pd.factorize`` gives, read from an Arrow dictionary without a Python
    object a row (modelrail.validation's typed CSV parse, D53). Indexing gives a row's
    value (None for null), for samples in messages."""

    codes: npt.NDArray[np.signedinteger[Any]]
    uniques: list[Any]

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, row: int) -> Any:
        code = int(self.codes[row])
        return None if code < 0 else self.uniques[code]

    def series(self) -> pd.Series:
        """The column as pandas reads it: a categorical over the distinct values."""
        categories = pd.Index(self.uniques, dtype=object)
        return pd.Series(pd.Categorical.from_codes(self.codes, categories=categories))


Cells = pd.Series | npt.NDArray[np.float64] | Coded
"""One column of a batch: as pandas reads it, or float64 numbers (NaN for null), or
:class:`Coded` text."""


class CsvColumns:
    """Columns of a CSV file, one streamed pass per :meth:`read`."""

    def __init__(self, open_stream: Opener, *, block_bytes: int = BLOCK_BYTES) -> None:
        import pyarrow.csv as pa_csv

        self._open = open_stream
        self._block = block_bytes
        with open_stream() as stream:
            reader = pa_csv.open_csv(stream, read_options=self._read_options())
            self._names = list(reader.schema.names)

    @property
    def names(self) -> list[str]:
        return self._names

    def _read_options(self) -> object:
        import pyarrow.csv as pa_csv

        return pa_csv.ReadOptions(block_size=self._block)

    @property
    def infers_text(self) -> bool:
        return True

    def batches(self, columns: list[Column]) -> Iterator[pd.DataFrame]:
        """``columns`` in one streamed pass, a block at a time: numbers as float64, text as
        Arrow dictionaries (pandas categoricals: codes and the distinct values, not a
        Python object a row), typed later from all its distinct values
        (:func:`infer_like_pandas`)."""
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        numeric = {ColumnType.NUMERIC, ColumnType.INTEGER}
        text = pa.dictionary(pa.int32(), pa.string())
        types = {c.name: pa.float64() if c.type in numeric else text for c in columns}
        options = pa_csv.ConvertOptions(
            include_columns=[c.name for c in columns],
            column_types=types,
            null_values=list(NA_VALUES),
            strings_can_be_null=True,
            true_values=list(PANDAS_TRUE),
            false_values=list(PANDAS_FALSE),
        )
        parse = pa_csv.ParseOptions(newlines_in_values=True)
        with self._open() as stream:
            reader = pa_csv.open_csv(
                stream,
                read_options=self._read_options(),
                parse_options=parse,
                convert_options=options,
            )
            for batch in reader:
                yield batch.to_pandas()


def infer_like_pandas(text: pd.Series) -> pd.Series:
    """What pandas' CSV parser would have made of a column read as text.

    Booleans when every value is a true/false word, numbers when every value parses
    (int64 when all are integers and none is missing), otherwise the text.
    """
    if isinstance(text.dtype, pd.CategoricalDtype):
        return _infer_categorical(text)
    present = text.dropna()
    if not len(present):
        return text.astype(object)
    if present.isin((*PANDAS_TRUE, *PANDAS_FALSE)).all():
        if len(present) == len(text):
            return present.isin(PANDAS_TRUE)
        return text.map(lambda v: v in PANDAS_TRUE, na_action="ignore").astype(object)
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.notna().all():
        parsed = pd.to_numeric(text, errors="coerce")
        whole = len(present) == len(text) and bool((parsed == parsed.round()).all())
        all_int = whole and present.str.fullmatch(r"\s*[-+]?\d+\s*").all()
        return parsed.astype("int64") if all_int else parsed.astype("float64")
    return text.astype(object)


def _infer_categorical(text: pd.Series) -> pd.Series:
    """:func:`infer_like_pandas` of a categorical column, decided on its distinct values."""
    categories = pd.Series(text.cat.categories, dtype=object)
    inferred = infer_like_pandas(categories)
    if inferred.dtype == object:  # text stays text: keep the compact categorical
        return text
    if inferred.duplicated().any():  # "1" and "01" are one number: no longer distinct
        return infer_like_pandas(text.astype(object))
    # numbers or booleans as categories: their canonical labels are the dense column's
    return text.cat.rename_categories(list(inferred))


class ParquetColumns:
    """Columns of a Parquet file by projection; the file is spooled once if not seekable."""

    def __init__(self, open_stream: Opener) -> None:
        import pyarrow.parquet as pq

        self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the source
        with open_stream() as stream:
            shutil.copyfileobj(stream, self._spool, BLOCK_BYTES)
        self._spool.seek(0)
        self._file = pq.ParquetFile(self._spool)
        schema = self._file.schema_arrow
        self._names = [str(c) for c in schema.empty_table().to_pandas().columns]

    @property
    def names(self) -> list[str]:
        return self._names

    @property
    def infers_text(self) -> bool:
        return False

    def batches(self, columns: list[Column]) -> Iterator[pd.DataFrame]:
        """``columns`` by projection, a row group batch at a time, as pandas reads them."""
        import pyarrow as pa

        names = [c.name for c in columns]
        schema = pa.schema([self._file.schema_arrow.field(n) for n in names])
        for batch in self._file.iter_batches(batch_size=BATCH_ROWS, columns=names):
            yield pa.Table.from_batches([batch], schema=schema).to_pandas()

    def close(self) -> None:
        self._spool.close()
