#!/usr/bin/env python3
"""A fake tool (nvcc, gcc, ldconfig, nvidia-smi) that prints FLOOD_MB megabytes on stdout (one line
per KiB, or one single line with FLOOD_ONE_LINE=1), then exits 0; FLOOD_MB=0 prints forever."""
import os
import sys

mb = int(os.environ.get("FLOOD_MB", "8"))
line = b"x" * 1023 + (b"" if os.environ.get("FLOOD_ONE_LINE") else b"\n")
chunk = line * 1024
out = sys.stdout.buffer
try:
    n = 0
    while mb == 0 or n < mb:
        out.write(chunk)
        n += 1
    out.flush()
except BrokenPipeError:
    pass
