"""Subcommands of the ``chainrule`` command line (see :mod:`chainrule.cli`)."""
