"""Each test here runs in its own directory, without MNIST on disk."""

from ..fixtures import isolated_run_dir  # noqa: F401  (an autouse fixture)
