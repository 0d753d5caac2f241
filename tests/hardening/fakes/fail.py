#!/usr/bin/env python3
"""A fake tool (nvcc, gcc, ldconfig) that fails: exit code 3 with an error on stderr."""
import sys

sys.stderr.write("fake tool: fatal error: something is broken\n")
sys.exit(3)
