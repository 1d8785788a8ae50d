"""The likely causes a failing check may name: the registry of stable keys, and exceptions explained.

Every likely cause is a `Cause`: the text the student reads (a str, often with the case's numbers
in it) and a stable key from `CAUSES`, which results.json carries as data (`extra_data.diagnoses`
of a test) so that `python -m grader report` can count a class's mistakes. `exception_causes`
explains exceptions of student code (numpy 2 removals, float sizes). The mistakes themselves are
simulated in grader/feedback/mistakes.py.
"""
import re

import numpy as np

from grader.feedback import numpy_notes

# Stable key -> short title of every known mistake (the class report's rows). A key, once
# published in results.json, is never renamed: old results stay countable.
CAUSES = {
    # any array
    "generic.all_zeros": "result is all zeros (never filled in or returned)",
    "generic.sign_flipped": "result has the sign flipped",
    "generic.transposed_hw": "height and width swapped (result transposed)",
    "generic.constant_factor": "result off by a constant factor (average vs sum?)",
    "generic.border_only": "only the border is wrong (zero padding / edge windows)",
    "generic.few_channels": "only a few channels are wrong",
    "generic.not_finite": "NaN or infinite values (overflow, division by zero, np.empty)",
    "generic.reversed_axes": "axes in reverse order",
    "generic.reshape_off": "right number of elements, wrong shape (a reshape or transpose)",
    "backward.forward_wrong": "backward fed by a wrong forward pass (fix the forward first)",
    "backward.own_bug": "backward wrong by itself (on the standard cache, or against its own "
                        "forward's numeric gradient), besides a wrong forward",
    # convolution
    "conv_forward.no_bias": "conv: the bias is not added",
    "conv_forward.flipped_kernel": "conv: flipped filters (true convolution, not cross-correlation)",
    "conv_forward.pad_one_side": "conv: zero padding on one side only",
    "conv_forward.no_stride": "conv: windows start at (i, j), the stride is not applied",
    "conv_forward.size_no_stride": "conv: output size ignores the stride",
    "conv_forward.size_no_pad": "conv: output size leaves out the padding",
    "conv_forward.size_pad_once": "conv: output size counts the padding once",
    "conv_forward.size_kernel_swapped": "conv: filter height and width swapped in the size",
    "conv_backward.dx_no_stride": "conv backward: stride not applied in dx",
    "conv_backward.dw_no_stride": "conv backward: stride not applied in dw",
    "conv_backward.dw_flipped": "conv backward: dw flipped",
    "conv_backward.dx_flipped_filters": "conv backward: dx uses flipped filters",
    "conv_backward.crop_one_side": "conv backward: padding cut from one side of dx only",
    "conv_backward.dx_keeps_padding": "conv backward: dx still includes the padding",
    "conv_backward.pad0_empty_crop": "conv backward: dx_pad[pad:-pad] is empty when pad == 0",
    "conv_backward.dx_overwrite": "conv backward: = instead of += in dx (overlapping windows)",
    "conv_backward.dw_overwrite": "conv backward: = instead of += in dw (last window only)",
    # max pooling
    "pool_forward.average": "pool: average instead of max",
    "pool_forward.minimum": "pool: minimum instead of max",
    "pool_forward.max_from_zero": "pool: running maximum starts at 0",
    "pool_forward.hw_swapped": "pool: pool_height and pool_width swapped",
    "pool_forward.stride_is_window": "pool: windows placed as if stride = window size",
    "pool_forward.size_no_stride": "pool: output size ignores the stride",
    "pool_forward.size_window_stride": "pool: output size uses the window as the stride",
    "pool_forward.size_floor_div": "pool: output size H // stride",
    "pool_backward.spread_average": "pool backward: gradient spread evenly (average-pool backward)",
    "pool_backward.spread_whole": "pool backward: whole gradient to every window position",
    "pool_backward.mask_only": "pool backward: marks the maxima with 1, no upstream gradient",
    "pool_backward.stride_is_window": "pool backward: windows placed as if stride = window size",
    "pool_backward.shared_mask": "pool backward: one mask of all windows' maxima read through each window",
    "pool_backward.overwrite": "pool backward: = instead of += with overlapping windows",
    # batchnorm (N, D) and spatial
    "batchnorm.stats_axis1": "batchnorm: statistics over the features (axis 1)",
    "batchnorm.unbiased_var": "batchnorm: unbiased variance (ddof=1)",
    "batchnorm.eps_outside": "batchnorm: eps added to the std instead of the variance",
    "batchnorm.eps_missing": "batchnorm: eps missing",
    "batchnorm.wrong_eps": "batchnorm: eps other than the given one (a wrong default, or the parameter ignored)",
    "batchnorm.gamma_beta_swapped": "batchnorm: gamma and beta swapped",
    "batchnorm.no_scale_shift": "batchnorm: gamma and beta not applied",
    "batchnorm.test_batch_stats": "batchnorm test mode: batch statistics instead of running averages",
    "batchnorm.test_no_scale_shift": "batchnorm test mode: gamma and beta dropped",
    "batchnorm.test_eps_missing": "batchnorm test mode: eps missing",
    "batchnorm.running_momentum_reversed": "running averages: momentum the other way round",
    "batchnorm.running_not_updated": "running averages not updated",
    "batchnorm.running_replaced": "running averages replaced by the batch statistic",
    "batchnorm_backward.constant_stats": "batchnorm backward: mean and variance treated as constants",
    "batchnorm_backward.no_mean_term": "batchnorm backward: the term through the mean is missing",
    "spatial_batchnorm.helper_wrong": "spatial batchnorm: the mistake is in the batchnorm_forward it calls",
    "spatial_batchnorm.stats_over_n": "spatial batchnorm: statistics over N only",
    "spatial_batchnorm.stats_per_example_channel": "spatial batchnorm: statistics over H, W only",
    "spatial_batchnorm.stats_per_example": "spatial batchnorm: statistics per example",
    "spatial_batchnorm.stats_whole_batch": "spatial batchnorm: one mean for the whole batch",
    "spatial_batchnorm.reshape_without_transpose": "spatial batchnorm: reshaped to (N*H*W, C) without the transpose",
    "spatial_batchnorm.not_transposed_back": "spatial batchnorm: output reshaped back without the transpose",
    "spatial_batchnorm_backward.dx_not_transposed_back":
        "spatial batchnorm backward: dx reshaped back without the transpose",
    "spatial_batchnorm_backward.dout_reshape_without_transpose":
        "spatial batchnorm backward: dout reshaped without the transpose",
    # group norm
    "group_norm.interleaved_groups": "group norm: channel c in group c % G (strided groups)",
    "group_norm.ignores_G": "group norm: G ignored (one group)",
    "group_norm.per_channel": "group norm: every channel normalized on its own",
    "group_norm.batch_stats": "group norm: statistics over the batch, as batchnorm",
    "group_norm.eps_outside": "group norm: eps added to the std instead of the variance",
    "group_norm.stats_across_groups": "group norm: statistics over the group axis (across groups)",
    "group_norm.g_as_group_size": "group norm: G used as the group size, not the number of groups",
    "group_norm.groups_mix_examples": "group norm: x.reshape(G, -1) mixes the examples",
    "group_norm.stats_channels_only": "group norm: statistics over the group's channels, not H and W",
    "group_norm_backward.per_channel": "group norm backward: sums per channel, not per group",
    "group_norm_backward.whole_example": "group norm backward: sums over the whole example",
    "group_norm_backward.constant_stats": "group norm backward: mean and variance treated as constants",
    "group_norm_backward.no_mean_term": "group norm backward: the term through the mean is missing",
    # affine, ReLU
    "affine_forward.no_bias": "affine: the bias is not added",
    "relu_backward.passes_at_zero": "ReLU backward: gradient passes at x == 0",
    "relu_backward.mask_only": "ReLU backward: the mask without dout",
    # softmax, network
    "softmax_loss.hinge": "softmax loss written as the multiclass SVM (hinge) loss",
    "softmax_loss.summed": "softmax loss summed, not averaged over N",
    "softmax_loss.no_max_shift": "softmax without subtracting the row maximum (overflow)",
    "convnet.reg_no_half": "regularization without the 0.5",
    "convnet.reg_biases": "biases regularized too",
    "convnet.reg_missing": "regularization not added to the loss",
    "convnet.reg_one_layer": "only one weight matrix regularized",
    "convnet.reg_grad_missing": "regularization gradient reg * W missing",
    "convnet.relu_on_scores": "scores passed through a ReLU (the last layer is affine only)",
    "convnet.bias_shape": "a bias of the wrong shape ((1, D), or a 0-d scalar)",
    "convnet.w2_rows": "W2 has the wrong number of rows (num_filters * H/2 * W/2)",
    "convnet.reg_one_missing": "one weight matrix not regularized (the others are)",
    "convnet.reg_sum_squared": "a weight's term is np.sum(W) ** 2 or np.sum(W), not np.sum(W ** 2)",
    "convnet.reg_grad_double": "regularization gradient 2 * reg * W instead of reg * W",
    "convnet.reg_grad_sum": "regularization gradient reg * np.sum(W) instead of reg * W",
    "convnet.reg_grad_biases": "regularization gradient on the biases",
    # exceptions of student code
    "numpy2.removed_alias": "numpy 2: np.int / np.float / np.bool ... aliases are gone",
    "numpy2.removed_name": "numpy 2: a name removed in NumPy 2.0 (np.float_, np.NaN, ...)",
    "numpy2.removed_method": "numpy 2: an ndarray method removed in NumPy 2.0",
    "numpy2.reshape_newshape": "numpy 2: np.reshape(..., newshape=...) keyword removed",
    "numpy2.copy_false": "numpy 2: np.array(..., copy=False) raises when a copy is needed",
    "numpy2.lib_namespace": "numpy 2: np.lib.<name> (np.lib.pad, ...) is gone, use np.<name>",
    "numpy.array_to_scalar": "numpy 2.4: int() / float() of an array with ndim > 0 raises",
    "numpy.sequence_into_element": "numpy 2.4: an array assigned to one element raises",
    # found by the grader's other checks or by comparing cases (grader/feedback/pointers.py)
    "shape.slip": "a shape slip: right values, shape off by axes of size 1",
    "shape.extra_axes": "extra leading axes: an operand of another shape was broadcast in",
    "dependency.fix_first": "uses another graded function that fails its own check: fix it first",
    "exception.undefined_name": "a name used but never defined (NameError)",
    "exception.float_size": "a size or index computed with / (a float) instead of //",
    "exception.array_to_scalar_many": "int() / float() of an array with several elements "
                                      "(e.g. np.where finding tied maxima)",
    "conv_backward.pad_fixed_one": "conv backward: padding of 1 hard-coded in dx",
    "pool_backward.max_lookup_outside": "pool backward: the window's maximum looked up outside the window",
    "batchnorm.test_eps_outside": "batchnorm test mode: eps added to the std instead of the variance",
    "batchnorm.running_var_std": "running variance updated with the standard deviation",
    "batchnorm.running_var_ones": "running_var defaulting to ones instead of zeros",
    "batchnorm.running_var_eps": "running variance updated with var + eps",
    "softmax_loss.log_epsilon": "softmax loss: a small constant added inside the log",
    "pattern.pad_zero": "fails exactly on the cases with pad = 0",
    "pattern.pad_not_one": "fails exactly on the cases whose pad is not 1",
    "pattern.stride_gt_1": "fails exactly on the cases with stride > 1",
    "pattern.nonsquare_kernel": "fails exactly on the cases with non-square filters",
    "pattern.nonsquare_input": "fails exactly on the cases with a non-square input",
    "pattern.nonsquare_output": "fails exactly on the cases with a non-square output",
    "pattern.untiled": "fails exactly on the cases whose windows do not tile the input",
    "pattern.batch_one": "fails exactly on the cases with a batch of one",
    "pattern.float32": "fails exactly on the float32 cases",
    "pattern.equal_dims": "fails exactly on the cases with two equal dimensions",
    "pattern.rect_window": "fails exactly on the cases with rectangular pooling windows",
    "pattern.overlapping": "fails exactly on the cases with overlapping windows",
    "pattern.g_one": "fails exactly on the cases with G = 1",
    "pattern.g_equals_c": "fails exactly on the cases with G = C",
    "pattern.test_mode": "fails exactly on the test-mode cases",
    "pattern.custom_eps": "fails exactly on the cases with a non-default eps",
    "pattern.custom_momentum": "fails exactly on the cases with a non-default momentum",
    "pattern.one_d": "fails exactly on the cases with a 1-D input",
    "pattern.large_scores": "fails exactly on the cases with large scores",
    "pattern.channels_not_3": "fails exactly on the nets whose input does not have 3 channels",
    "pattern.max_elsewhere": "fails exactly on the cases where a window's maximum also occurs elsewhere",
}

# How a pointer is confirmed before it is shown, by key prefix (the first that matches; the
# default is "simulated"). simulated: a known mistake, simulated on the case's inputs,
# reproduces the student's output (or shape) within tolerance; experiment: the student's own
# code was run again to decide (the backward on the standard cache or against its forward's
# centered differences, a helper on the rearranged input, a dependency's own check);
# exception: the student's exception says it; observed: a fact about the results (a shape off
# by axes of size 1, a property every failing visible case has and no passing one has);
# heuristic: a guess from the look of the result, worded "may".
CONFIRMED_BY = (
    ("pattern.", "observed"), ("shape.", "observed"), ("convnet.w2_rows", "observed"),
    ("convnet.bias_shape", "observed"),
    ("backward.", "experiment"), ("dependency.", "experiment"),
    ("spatial_batchnorm.helper_wrong", "experiment"),
    ("numpy", "exception"), ("exception.", "exception"),
    ("generic.all_zeros", "heuristic"), ("generic.border_only", "heuristic"),
    ("generic.few_channels", "heuristic"), ("generic.reshape_off", "heuristic"),
    ("generic.reversed_axes", "heuristic"), ("generic.not_finite", "heuristic"),
)


def confirmed_by(key):
    """How a pointer with this key was confirmed before it was shown (CONFIRMED_BY)."""
    return next((how for prefix, how in CONFIRMED_BY if key.startswith(prefix)), "simulated")


class Cause(str):
    """A likely cause: its text (what the student reads) with its stable key (`CAUSES`)."""

    def __new__(cls, key, text):
        if key not in CAUSES:
            raise KeyError(f"unknown diagnosis key {key!r} (add it to grader.feedback.causes.CAUSES)")
        self = super().__new__(cls, text)
        self.key = key
        return self

    def __reduce__(self):
        return (Cause, (self.key, str(self)))


# conv backward: dx_pad[:, :, pad:-pad, pad:-pad] at pad = 0, whether the empty crop is returned
# (a wrong shape) or assigned into dx (a broadcast error of the student's code).
PAD0_EMPTY_CROP = Cause("conv_backward.pad0_empty_crop",
                        "with pad = 0, dx_pad[:, :, pad:-pad, pad:-pad] is empty: -0 is 0, so "
                        "the slice pad:-pad is 0:0. Cut with pad:pad + H and pad:pad + W (or "
                        "skip the cut when pad == 0)")


def key_of(cause):
    """The stable key of a likely cause (every cause the checks give is a Cause)."""
    return getattr(cause, "key", None) or "unkeyed"


# ----------------------------------------------------------------------------------------------
# Exceptions of student code: names that numpy 2 no longer has
# ----------------------------------------------------------------------------------------------

# np.<alias> of a builtin, removed in NumPy 1.24 (deprecated since 1.20), not in NumPy 2 either.
# np.bool is back in NumPy 2 (as np.bool_), so it fails only on NumPy 1.24-1.26.
NUMPY_ALIASES = {"int": "int (or np.int64)", "float": "float (or np.float64)",
                 "bool": "bool (or np.bool_)", "object": "object", "str": "str",
                 "complex": "complex (or np.complex128)", "long": "int", "unicode": "str"}
# Names removed in NumPy 2.0, with what replaces them (NumPy 2.0 migration guide).
NUMPY2_REMOVED = {
    "float_": "np.float64", "complex_": "np.complex128", "cfloat": "np.complex128",
    "singlecomplex": "np.complex64", "longfloat": "np.longdouble", "string_": "np.bytes_",
    "unicode_": "np.str_", "int0": "np.intp", "uint0": "np.uintp", "bool8": "np.bool_",
    "NaN": "np.nan", "NAN": "np.nan", "Inf": "np.inf", "Infinity": "np.inf",
    "infty": "np.inf", "PINF": "np.inf", "NINF": "-np.inf", "PZERO": "0.0", "NZERO": "-0.0",
    "alltrue": "np.all", "sometrue": "np.any", "product": "np.prod",
    "cumproduct": "np.cumprod", "round_": "np.round", "asfarray": "np.asarray(x, dtype=float)",
    "in1d": "np.isin", "trapz": "np.trapezoid", "msort": "np.sort(a, axis=0)",
    "mat": "np.asmatrix", "asscalar": "a.item()", "find_common_type": "np.result_type",
    "cast": "np.asarray(x, dtype=...)",
}
# The names of NUMPY2_REMOVED that NumPy 2.0 only deprecated; the release that removed them
# (from the one table of uses that warn on one numpy and fail on a newer one).
REMOVED_LATER = {c.key: c.raises_from for c in numpy_notes.CHANGES if c.key in NUMPY2_REMOVED}
NDARRAY_REMOVED = {"ptp": "np.ptp(a)", "itemset": "a[index] = value",
                   "newbyteorder": "a.view(a.dtype.newbyteorder())"}


def exception_causes(etype, message):
    """Likely causes of an exception raised by student code (type name and message as the
    worker reports them): names and keywords that numpy 2 removed."""
    text = str(message or "")
    found = []
    m = re.search(r"module 'numpy' has no attribute '(\w+)'", text)
    removed = re.search(r"`np\.(\w+)` was removed in the NumPy 2\.0 release\. ?(.*?\.)(?: |$)",
                        text)
    if m and m.group(1) in NUMPY_ALIASES:
        name = m.group(1)
        found.append(Cause("numpy2.removed_alias",
                           f"np.{name} was removed from NumPy (it was only an alias of the "
                           f"builtin {name}; gone since NumPy 1.24, and NumPy 2 does not have "
                           f"it): use {NUMPY_ALIASES[name]}"))
    elif m and m.group(1) in NUMPY2_REMOVED:
        name = m.group(1)
        found.append(Cause("numpy2.removed_name", f"np.{name} was removed in NumPy "
                           f"{REMOVED_LATER.get(name, '2.0')}: use {NUMPY2_REMOVED[name]} "
                           f"instead"))
    elif removed:
        name, advice = removed.group(1), removed.group(2).strip()
        replacement = NUMPY2_REMOVED.get(name)
        found.append(Cause("numpy2.removed_name", f"np.{name} was removed in NumPy 2.0: "
                           + (f"use {replacement} instead" if replacement else advice)))
    m = re.search(r"'numpy\.ndarray' object has no attribute '(\w+)'", text)
    if m and m.group(1) in NDARRAY_REMOVED:
        found.append(Cause("numpy2.removed_method",
                           f"ndarray.{m.group(1)} was removed in NumPy 2.0: use "
                           f"{NDARRAY_REMOVED[m.group(1)]}"))
    change = numpy_notes.change_for_error(text)
    if etype == "TypeError" and change and change.key == "reshape_newshape":
        found.append(Cause("numpy2.reshape_newshape",
                           f"the newshape= keyword of np.reshape was deprecated in NumPy 2.1 "
                           f"and removed in {change.raises_from}: pass the shape positionally, "
                           f"{change.fix}"))
    if "Unable to avoid copy while creating an array" in text:
        found.append(Cause("numpy2.copy_false",
                           "in NumPy 2, np.array(x, copy=False) raises when a copy is needed "
                           "(in NumPy 1 it meant 'copy only if needed'): use np.asarray(x)"))
    m = re.search(r"name '(\w+)' is not defined", text)
    if etype == "NameError" and m:
        found.append(Cause("exception.undefined_name",
                           f"{m.group(1)} is used but never assigned in this function: a typo "
                           f"for another name, or a variable of another function"))
    return found + newer_numpy_causes(etype, text) + float_size_causes(etype, text)


def newer_numpy_causes(etype, text):
    """Causes of exceptions from the numpy.lib clean-up (2.0) and scalar conversion (2.4)."""
    m = re.search(r"module 'numpy\.lib' has no attribute '(\w+)'", text)
    if m and hasattr(np, m.group(1)):
        return [Cause("numpy2.lib_namespace",
                      f"np.lib.{m.group(1)} was removed in NumPy 2.0 (numpy.lib now holds only "
                      f"submodules): use np.{m.group(1)}")]
    change = numpy_notes.change_for_error(text)
    if etype == "TypeError" and change and change.key == "array_to_scalar":
        return [Cause("numpy.array_to_scalar",
                      f"int() or float() of an array that is not 0-dimensional: NumPy 1.25 "
                      f"deprecated it even for one element (e.g. the result of np.where or a "
                      f"(1, 1) product) and NumPy {change.raises_from} raises; take the element "
                      f"with {change.fix} (with np.where on a window, several positions may "
                      f"hold the maximum: pick one, e.g. with np.argmax)")]
    if etype == "TypeError" and "only length-1 arrays can be converted" in text:
        return [Cause("exception.array_to_scalar_many",
                      "int() or float() of an array with more than one element: e.g. np.where "
                      "on a pooling window returns every position holding the maximum, and a "
                      "window with tied maxima has several; pick one position (np.argmax of "
                      "the window, then np.unravel_index)")]
    if etype == "ValueError" and "setting an array element with a sequence" in text:
        return [Cause("numpy.sequence_into_element",
                      "an array was assigned to a single element: NumPy 1.25 deprecated "
                      "assigning a one-element array (such as the (1, 1) result of a (1, K) @ "
                      "(K, 1) product) and NumPy 2.4 raises; assign a number (a.item(), "
                      "np.sum(a * b)), or fix the shapes if the array has more elements")]
    return []


def float_size_causes(etype, text):
    """Causes of exceptions from sizes or indices that are floats (/ instead of //)."""
    if etype in ("TypeError", "IndexError") and re.search(
            r"'float' object cannot be interpreted as an integer|slice indices must be "
            r"integers|only integers, slices .* are valid indices", text):
        return [Cause("exception.float_size",
                      "a float where NumPy or range() needs an integer: a size or index "
                      "computed with / is a float even when it divides exactly; use // (or "
                      "int(...)) for the output size H' = 1 + (H + 2 * pad - HH) // stride")]
    return []
