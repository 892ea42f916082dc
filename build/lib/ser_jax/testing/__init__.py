"""Helpers for tests and demos that must not depend on real (licensed, large) corpora."""
