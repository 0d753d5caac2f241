#!/usr/bin/env python3
"""A fake tool (nvcc, gcc, ldconfig) that prints binary-looking garbage and exits 0."""
import sys

sys.stdout.write("\x1b[31m\ufffdGARBAGE {not json} release ??.?? V\n" * 50)
sys.stdout.write("libcudart.so.12 (libc6,x86-64) => \n=> => /nonexistent/\x01\x02\n")
sys.stderr.write("fake tool: garbage on purpose\n")
