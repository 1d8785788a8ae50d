"""Build for the cs260 autograder: the `grader` package plus the Cython fast layers.

The Cython extension is compiled in place for both package trees (solution/ and
starter/), so `pip install -e .` leaves each `cs260` importable with its fast layers.
"""
import os
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

# Only the trees that are there: the Gradescope autograder.zip ships starter/ without solution/.
TREES = tuple(t for t in ("solution", "starter") if os.path.isfile(f"{t}/cs260/im2col_cython.pyx"))

# The grading environment's pins (numpy above all), defined once in grader/pins.txt and read by
# every install path (docs/ENVIRONMENT.md); imageio and pillow only serve the notebook's aside.
PINS = [line.split("#", 1)[0].strip()
        for line in Path(__file__).with_name("grader").joinpath("pins.txt").read_text().splitlines()]
PINS = [line for line in PINS if line]

extensions = [
    Extension(
        f"{tree}.cs260.im2col_cython",
        [f"{tree}/cs260/im2col_cython.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    )
    for tree in TREES
]

setup(
    name="cs260-autograder",
    version="0.1.0",
    python_requires=">=3.10",
    packages=find_packages(include=["grader", "grader.*"]),
    install_requires=PINS + ["imageio>=2.31", "pillow>=10"],
    extras_require={"bench": ["torch==2.13.0"],
                    "report": ["matplotlib>=3.7"],   # the class report's pictures
                    "lint": ["ruff==0.17.6"],        # the style CI keeps (pyproject.toml [tool.ruff])
                    # tests only: renders results.json's Markdown as Gradescope does (CommonMark)
                    "test": ["markdown-it-py==3.0.0"]},
    ext_modules=cythonize(extensions, language_level=3),
    zip_safe=False,
)
