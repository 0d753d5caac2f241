"""`cudadoctor lint`: judge a Dockerfile, compose files and requirements files before anything is built.

Parsing needs the optional extra ``cudadoctor[lint]`` (dockerfile-parse, PyYAML). The package is
split by concern: ``model`` (what the files say, with line numbers), ``dockerfile`` / ``compose`` /
``requirements`` (the parsers), ``pins`` (what a torch requirement resolves to), ``rules`` (the
findings only a file can show: an unpinned base, a missing HEALTHCHECK, ...), ``facts_from``
(Facts built from the files, judged by the *same* check classes and rule tables as ``check``:
driver vs CUDA variant, companions, /dev/shm, the writable layer), ``engine`` and ``render``.
"""
