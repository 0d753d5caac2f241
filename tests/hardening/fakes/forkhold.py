#!/usr/bin/env python3
"""A fake tool that forks a helper which inherits stdout and sleeps, prints a banner and exits:
the helper holds the pipe open long after the tool is gone."""
import os
import sys
import time

if os.fork() == 0:
    time.sleep(300)
    os._exit(0)
sys.stdout.write("Cuda compilation tools, release 12.4, V12.4.131\n")
sys.stdout.flush()
