"""`python -m workbook` is the `workbook` command line."""

import sys

from workbook.runs.cli import main

sys.exit(main())
