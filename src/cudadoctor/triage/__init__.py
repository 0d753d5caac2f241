"""Triage of pasted error text, collect_env reports and tool output: what broke, and the fix."""

from __future__ import annotations
