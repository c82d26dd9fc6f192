"""Chainon's benchmark: scenarios measured beside the raw limits of the same machine.

``python -m bench`` (``make bench``) starts the services a selection needs, runs every raw
limit, baseline and scenario in a fresh process of its own (so each peak RSS is its own),
prints one table and writes the run to ``var/bench/<UTC time>.json``. It runs from a source
checkout only: the wheel does not ship it, and nothing in the shipped packages imports it.
A scenario is a function registered with ``bench.registry.measurement``.
"""
