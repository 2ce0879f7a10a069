"""Generalization and approximation theory, each result paired with a numerical check."""
