"""The step-through page in a real browser (a package, so test module names may repeat
in other test folders)."""
