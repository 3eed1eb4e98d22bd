"""Load and memory benchmarks for the intake bot, run against the local Bot API server.

``python -m bench`` measures the framework's ceiling with an echo bot, then the real bot with
many simulated applicants, on the same server in the same process, and prints one table.
"""
