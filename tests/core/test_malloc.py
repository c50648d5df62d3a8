"""cr.retain_freed_memory: glibc keeps freed arrays' pages, so a repeated step stops
faulting in fresh memory."""

from __future__ import annotations

import subprocess
import sys

import pytest

import chainrule as cr

SCRIPT = """
import resource, sys
import numpy as np
import chainrule as cr
if sys.argv[1] == "retain":
    assert cr.retain_freed_memory(256)
def step():
    a = [np.ones(300_000) for _ in range(8)]     # 8 arrays of 2.4 MB, then freed
    return sum(float(x[0]) for x in a)
for _ in range(3):
    step()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0) / 10)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_retained_memory_is_not_faulted_in_again() -> None:
    def faults(mode: str) -> float:
        out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True,
                             text=True, timeout=60, check=True).stdout
        return float(out)
    default, retained = faults("default"), faults("retain")
    assert retained < 50 <= default, (default, retained)   # ~4,700 pages a step before


def test_bad_limits_are_refused() -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="limit_mb must be a positive int"):
            cr.retain_freed_memory(bad)
