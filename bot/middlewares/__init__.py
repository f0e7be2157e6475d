"""Outer middlewares on the Update observer, in the order DESIGN.md gives."""
