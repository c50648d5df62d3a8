"""A rank that misbehaves under ``mpiexec -n 2`` (run by test_faults.py):

* ``ok``: both ranks do five gradient allreduces and exit normally;
* ``stop``: rank 1 stops itself (SIGSTOP) before the third;
* ``exit``: rank 1 leaves with ``sys.exit(0)`` before the third;
* ``slow``: rank 1 computes (sleeps) for 20 s before the third;
* ``kill``: rank 1 is killed (SIGKILL) before the third;
* ``late``: rank 1 finishes normally, rank 0 calls one collective more.

Rank 0 prints ``done`` if it gets through; the timeout comes from the command line.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np

import chainrule as cr
import chainrule.distributed as dist

mode, timeout = sys.argv[1], float(sys.argv[2])
dist.init(timeout=timeout)
me = dist.rank()
w = cr.tensor(np.ones(3), requires_grad=True)
for step in range(5):
    if me == 1 and step == 2 and mode == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
    if me == 1 and step == 2 and mode == "exit":
        sys.exit(0)
    if me == 1 and step == 2 and mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if me == 1 and step == 2 and mode == "slow":
        time.sleep(20)
    (w * w).sum().backward()
    dist.allreduce_gradients([w])
    w.grad = None
if mode == "late" and me == 0:
    time.sleep(0.5)                 # rank 1 has exited by now
    dist.allreduce_mean(1.0)
print(f"rank {me} done", flush=True)
