"""Reports: one report model rendered to self-contained HTML and to PDF.

Each report's context (only what that report may show), Jinja2 rendering, the PDF made from
the same HTML, provenance and atomic writes. Imports only the views, analysis and data wings.
"""
