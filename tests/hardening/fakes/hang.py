#!/usr/bin/env python3
"""A fake tool (nvcc, gcc, ldconfig) that prints a little, then never returns."""
import sys
import time

sys.stdout.write("half a line of output")
sys.stdout.flush()
while True:
    time.sleep(60)
