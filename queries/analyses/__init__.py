"""Analyses: the questions each page asks beyond the catalogue (signals, comparability, people, risk, monitoring)."""
