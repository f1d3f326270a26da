"""Views: what a person looks at, built from an analysis.

Declarative Altair chart builders, their offline SVG rendering, the caseload review's filters
and the caseload app. Imports only the analysis and data wings.
"""

import sys

# jsonschema checks the "iri" string format with rfc3987-syntax when that is installed (Jupyter's
# jupyter-events asks for jsonschema[format-nongpl]); importing it builds a parser grammar for
# about 2.6 s, in every process that imports Altair (a kernel, the CLI, each batch worker).
# Altair's schemas use no "iri" format, so unless something imported it already it is marked
# absent here, as if not installed: jsonschema then skips that one format check.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
