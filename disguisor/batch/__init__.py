"""Batch anonymization of recording archives on Ray (``disguisor batch``).

- :mod:`disguisor.batch.archive`: the recordings of an archive folder or a manifest;
- :mod:`disguisor.batch.tasks`: the work of one task (prepare, a frame chunk, finish), plain functions;
- :mod:`disguisor.batch.engine`: Ray (local instance or cluster), task scheduling, retries;
- :mod:`disguisor.batch.report`: ``batch_report.json`` and the summary table;
- :mod:`disguisor.batch.driver`: plan, run and report a batch; :mod:`disguisor.batch.command`: the CLI.

Ray is imported only when a batch runs (the optional extra ``disguisor[batch]``).
"""
