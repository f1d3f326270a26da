"""Data: what comes in and the words for it.

The five signs, outcome measures, the data contract's columns, the configuration, notebook and
command-line parameters, reading ratings files and checking them against the contract, the
example clinic generator, and one exception class per kind of failure the user can cause. The
bottom wing: it imports no other wing of the package.
"""
