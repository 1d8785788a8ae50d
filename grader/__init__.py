"""Autograder for the cs260 convolutional-networks homework (see docs/ARCHITECTURE.md)."""
