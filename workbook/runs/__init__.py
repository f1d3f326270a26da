"""Runs: how the work is started.

The `workbook` command line, the notebooks' jobs, the monthly batch in worker processes and the
papermill runner. The top wing: it may import every other wing.
"""
