"""Tests of unidgm.train."""
