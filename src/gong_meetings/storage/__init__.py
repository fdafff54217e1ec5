"""All SQL lives in this package: tables, queries and migrations."""
