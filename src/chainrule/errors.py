"""Exception classes of chainrule.

Every error the library raises on bad input is one of these. Each subclasses the
built-in exception a user would already catch (``ValueError`` for bad shapes,
``TypeError`` for bad dtypes, ``RuntimeError`` for misuse of the graph), so code that
catches the built-in keeps working.
"""

from __future__ import annotations


class ChainruleError(Exception):
    """Base class of every error raised by chainrule."""


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
