"""The fleet view (``cudadoctor fleet REPORTS...``): many nodes' reports, summarised.

nodes.py reads one node's summary from any report a fleet engine collected (Slurm, a Kubernetes
DaemonSet or Job, ``gate --distributed``); summary.py counts verdicts and findings and finds the
odd ones out; render.py prints the summary as text, JSON or Markdown.
"""
