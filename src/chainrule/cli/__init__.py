"""The ``chainrule`` command.

Each subcommand is a module of this package with a ``register(subparsers)`` function
that adds its parser and sets ``func`` (called with the parsed arguments; it returns the
process exit code). Heavy imports (matplotlib, tqdm, graphviz) happen inside ``func``,
so ``chainrule --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .._version import __version__

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("train", "evaluate", "explain", "gradcheck", "bench")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Backpropagation you can run, see, check and scale.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chainrule`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output to a closed pipe (``chainrule gradcheck -v | head``): stop quietly, and
        # keep Python from complaining again when it flushes stdout at exit.
        _silence_stdout()
        return 141


def _silence_stdout() -> None:
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - stdout without a descriptor
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
