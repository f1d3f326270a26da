"""Readers of what clinics already hold: instrument exports (SRS, ORS, WAI-SR, wide or long)
mapped onto the five signs by declarative mappings, and databases by SQLAlchemy URL.

- `instruments`: the instruments, by item code only (their wording is never shipped or printed)
- `mapping`: the declarative, overridable mapping of instrument items onto the signs
- `bridge`: an export's items checked and mapped onto the contract's columns
- `urls`: telling a database URL from a file path; its table or query; a printable form
- `database`: reading a table or query into the same checks as a file
- `store`: `workbook import`, appending a file to a clinic's store in one transaction
"""
