"""Tests of chainrule.viz: the explain table, DOT, SVG, the step-through page, and the
`chainrule explain` command (a package, so helper modules are imported relatively)."""
