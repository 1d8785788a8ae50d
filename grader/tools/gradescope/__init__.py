"""Gradescope packaging: autograder.zip (build.py), its setup.sh and run_autograder (run.py).

Their settings (the student user, the grading budget, the zip's layout) are in grader/config.py,
which the shared options and the worker's limits also read.
"""
