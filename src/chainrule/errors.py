"""Every exception class of chainrule.

Every error the library raises on bad input is one of these, and every one of them is
defined here (the modules that raise them re-export them, so ``from chainrule.data
import DataError`` works too). Each subclasses the built-in exception a user would
already catch: ``ValueError`` for bad shapes, values and files, ``TypeError`` for bad
dtypes, ``RuntimeError`` for misuse of the graph or a failed tool, ``FileNotFoundError``
for something missing on disk, ``ImportError`` for a missing optional package.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ._text import caret

__all__ = [
    "BackwardError",
    "BenchmarkError",
    "BenchmarkMismatchError",
    "ChainruleError",
    "CheckpointError",
    "DataError",
    "DatasetNotFoundError",
    "DistributedError",
    "DtypeError",
    "ExpressionError",
    "GradcheckError",
    "GraphFreedError",
    "GraphvizError",
    "GraphvizNotFoundError",
    "GraphvizTimeoutError",
    "InplaceModificationError",
    "LanguageError",
    "MPIUnavailableError",
    "PageTooLargeError",
    "ShapeError",
]


class ChainruleError(Exception):
    """Base class of every error raised by chainrule."""


# ---------------------------------------------------------------------- the engine
class ShapeError(ChainruleError, ValueError):
    """A gate received inputs whose shapes do not fit together."""


class DtypeError(ChainruleError, TypeError):
    """An operation received a dtype it cannot work with (e.g. ``requires_grad`` on ints)."""


class BackwardError(ChainruleError, RuntimeError):
    """``backward`` or ``cr.grad`` was called in a way that cannot be honoured."""


class GraphFreedError(BackwardError):
    """Backward reached a part of the graph whose saved values were already released."""


class InplaceModificationError(BackwardError):
    """A tensor saved for backward was modified in place after the forward pass."""


class GradcheckError(ChainruleError, RuntimeError):
    """Backprop and numerical differentiation disagree (raised by ``cr.gradcheck``)."""


# ---------------------------------------------------------------------- files and data
class CheckpointError(ChainruleError, ValueError):
    """A checkpoint file is unreadable or does not match what it is loaded into."""


class DataError(ChainruleError, ValueError):
    """A data file is malformed, truncated or does not hold what was expected."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """A dataset's files are not on disk (and could not be downloaded).

    Subclasses both :class:`DataError` (``ValueError``) and ``FileNotFoundError``.
    ``searched`` lists the directories looked in, ``missing`` the file names.
    """

    def __init__(self, message: str, *, searched: Sequence[Path] = (),
                 missing: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.searched = list(searched)
        self.missing = list(missing)


# ---------------------------------------------------------------------- showing graphs
class LanguageError(ChainruleError, ValueError):
    """An unsupported ``lang`` was asked for."""


class GraphvizError(ChainruleError, RuntimeError):
    """Graphviz's ``dot`` failed to render a graph."""


class GraphvizNotFoundError(GraphvizError, FileNotFoundError):
    """Graphviz's ``dot`` program is not installed (or not on ``PATH``)."""


class GraphvizTimeoutError(GraphvizError, TimeoutError):
    """Graphviz's ``dot`` did not finish within the time it was given (and was killed)."""


class PageTooLargeError(ChainruleError, ValueError):
    """The graph has too many gates for a step-through page."""


class ExpressionError(ChainruleError, ValueError):
    """An expression (or a ``name=value`` binding) was refused or could not be read.

    ``reason`` is the short reason; ``source``, ``col`` and ``end_col`` (character
    offsets, or ``None``) locate the offending part, and ``str(err)`` shows it with a
    caret underneath.
    """

    def __init__(self, reason: str, source: str | None = None, col: int | None = None,
                 end_col: int | None = None, hint: str | None = None) -> None:
        self.reason = reason
        self.source = source
        self.col = col
        self.end_col = end_col
        self.hint = hint
        msg = reason
        if source is not None and col is not None:
            msg += "\n" + caret(source, col, end_col)
        if hint:
            msg += "\n" + hint
        super().__init__(msg)


# ---------------------------------------------------------------------- more machines
class DistributedError(ChainruleError, RuntimeError):
    """The ranks disagree (different models, datasets or seeds) or MPI failed."""


class MPIUnavailableError(ChainruleError, ImportError):
    """mpi4py (or the MPI library under it) cannot be imported."""


# ---------------------------------------------------------------------- developer tools
class BenchmarkError(ChainruleError, RuntimeError):
    """A benchmark could not produce a meaningful measurement."""


class BenchmarkMismatchError(BenchmarkError):
    """The implementations of a benchmark do not compute the same result, so timing
    them would compare different things."""
