"""The first stage: inputs (JSON lines, CSV; plain, gzip or stdin) as chunks of records.

``reader`` opens an input and hands it out as chunks, ``jsonl`` and ``csvfile`` turn lines
and rows into ``record.Record`` objects.
"""
