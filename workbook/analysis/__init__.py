"""Analysis: every rule and aggregate, from validated ratings to tidy frames.

Periods, the alliance signs (summaries, concern ratings, possible ruptures, perspective gaps),
attendance and completeness, outcome change, the discussion list and wins, clinic aggregates
and small-cell suppression; `pipeline.analyse` runs them all for a period. Imports only the
data wing.
"""
