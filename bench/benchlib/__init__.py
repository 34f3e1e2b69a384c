"""The benchmark harness behind bench/run.py: processes, pre-filled databases, scenarios,
profiles and the report."""
