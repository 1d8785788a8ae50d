"""The graded checks (test_*.py, one file per notebook section) and what they share."""
