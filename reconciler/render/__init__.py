"""Renderers: small pure functions from a Plan (or a list of problems) to text.

``text`` for terminals, ``markdown`` for PR comments and job summaries, ``json`` for machines,
``github`` for workflow annotations. Each module owns one format; ``values`` owns how a single
value reads to a human (labels instead of ids, neutralised control characters); ``formats`` is
the one table that says which renderer shows a plan or report in a format.
"""
