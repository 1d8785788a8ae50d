"""A student layers.py that calls sys.exit() while being imported (used by test_worker.py)."""
import sys

sys.exit("bye")
