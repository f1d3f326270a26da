"""Views: what a person looks at, built from an analysis.

Declarative Altair chart builders, their offline SVG rendering, the caseload review's filters
and its ipywidgets panel. Imports only the analysis and data wings.
"""
