"""Suite-wide test settings."""

from __future__ import annotations

import os

from hypothesis import settings

# In CI the property tests draw the same examples on every run, so a red build always
# reproduces; locally they explore new random examples each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
