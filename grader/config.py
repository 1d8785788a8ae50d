"""Every grading setting in one place: sections, check weights, tolerances, limits, visibility.

Checks look their weight up here (via `check_meta`); the README's weights table is this table.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    key: str      # used in check ids and tags
    number: str   # notebook section, sorts Gradescope's list
    title: str


SECTIONS = [
    Section("prereq", "0", "Prerequisites (affine, relu, softmax, batchnorm)"),
    Section("conv_forward", "2", "Convolution: naive forward"),
    Section("conv_backward", "2b", "Convolution: naive backward"),
    Section("pool_forward", "3", "Max pooling: naive forward"),
    Section("pool_backward", "3b", "Max pooling: naive backward"),
    Section("fast", "4", "Fast layers vs naive"),
    Section("sandwich", "5", "Sandwich layers"),
    Section("convnet", "6", "ThreeLayerConvNet"),
    Section("sbn_forward", "8", "Spatial batchnorm: forward"),
    Section("sbn_backward", "9", "Spatial batchnorm: backward"),
    Section("sgn_forward", "10", "Spatial group norm: forward"),
    Section("sgn_backward", "11", "Spatial group norm: backward"),
]

# Points of each section; the checks inside a section split them (see CHECKS). Sum: 100.
SECTION_POINTS = {
    "prereq": 10,
    "conv_forward": 14,
    "conv_backward": 13,
    "pool_forward": 7,
    "pool_backward": 7,
    "fast": 6,
    "sandwich": 5,
    "convnet": 17,
    "sbn_forward": 6,
    "sbn_backward": 5,
    "sgn_forward": 5,
    "sgn_backward": 5,
}

assert sum(SECTION_POINTS.values()) == 100
