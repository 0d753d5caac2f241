"""Compare two environments by what matters to a PyTorch job (``cudadoctor diff``, ``check --baseline``).

aspects.py says what each fact means (its group, ordered by consequence, or noise); flatten.py turns
Facts into comparable paths; compare.py finds the differences and, judging both sides with the same
engine, the findings that fire on one side only and the differences they rest on; drift.py makes
the ``drift`` fact area for ``--baseline``; render.py prints a diff as text, JSON or Markdown.
"""
