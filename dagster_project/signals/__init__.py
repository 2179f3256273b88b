"""Signals computed in Python between staging and marts (text sentiment)."""
