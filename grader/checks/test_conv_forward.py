"""Section 2: the naive convolution forward pass, conv_forward_naive."""

from grader import config
from grader.checks import data
from grader.feedback import mistakes as bugs
from grader.feedback.catalogue import conv_candidates
from grader.cases import CONV_FORWARD, check
from grader.checks.checking import check_forward, require_file, short
from grader.feedback.compare import assert_close, describe, unpack
from grader.feedback.causes import Cause


def conv_mistakes(case, fx):
    """What known mistakes would output for this case's inputs."""
    p = case.params["conv_param"]
    return conv_candidates(fx.inputs["x"], fx.inputs["w"], fx.inputs["b"], p["stride"], p["pad"],
                           fx.expected["out"])


def conv_shape_hints(case, fx):
    """Output shapes that known mistakes produce, for a wrong-shape message."""
    N, C, H, W = fx.inputs["x"].shape
    F, _, HH, WW = fx.inputs["w"].shape
    p = case.params["conv_param"]
    s, pad = p["stride"], p["pad"]
    hints = [(Cause("conv_forward.size_no_stride", "the stride is ignored in the output size"),
              (N, F, H + 2 * pad - HH + 1, W + 2 * pad - WW + 1)),
             (Cause("conv_forward.size_no_pad", "the padding is left out of the output size"),
              (N, F, 1 + (H - HH) // s, 1 + (W - WW) // s)),
             (Cause("conv_forward.size_pad_once",
                    "the padding is counted once instead of on both sides"),
              (N, F, 1 + (H + pad - HH) // s, 1 + (W + pad - WW) // s))]
    if HH != WW:
        hints.append((Cause("conv_forward.size_kernel_swapped",
                            "the filter height and width are swapped"),
                      (N, F, 1 + (H + 2 * pad - WW) // s, 1 + (W + 2 * pad - HH) // s)))
    return [(c, sh) for c, sh in hints if sh != fx.expected["out"].shape]


def _check(worker, submission, case, slips=None):
    require_file(submission, "layers.py")
    from grader.checks.fixtures import load_fixture
    check_forward(worker, case, diagnoses=conv_mistakes,
                  shape_hints=conv_shape_hints(case, load_fixture(case)), slips=slips)


@check("conv_forward.notebook", "conv_forward_naive")
def test_notebook(case, worker, submission, slips):
    """the notebook's case matches the reference (stride 2, pad 1)"""
    _check(worker, submission, case, slips=slips)


@check("conv_forward.images", "conv_forward_naive")
def test_images(worker, submission, record_property, slips):
    """image processing: grayscale and horizontal-edge filters on two images"""
    require_file(submission, "layers.py")
    x = data.notebook_images(config.IMAGE_SIZE)
    source = "the notebook's puppy and kitten"
    if x is None:
        x, source = data.generated_images(config.IMAGE_SIZE), "two generated test images"
    w, b = data.image_filters()
    conv_param = {"stride": 1, "pad": 1}
    out, _ = unpack(worker.call(CONV_FORWARD, x, w, b, conv_param), ("out", "cache"),
                    short(CONV_FORWARD))
    expected = data.filtered_images(x)
    inputs = (describe({"x": x, "w": w, "b": b}, {"conv_param": conv_param})
              + f"  [{source}; filter 0 = grayscale 0.3R + 0.6G + 0.1B, filter 1 = horizontal "
                f"edges [[1, 2, 1], [0, 0, 0], [-1, -2, -1]] of the blue channel + 128]")
    assert_close(out, expected, what="conv_forward_naive on the image-processing cell",
                 inputs=inputs, tol=config.TOL_FLOAT64,
                 diagnoses=[(Cause("conv_forward.flipped_kernel",
                                   "the filters are flipped (true convolution): the edge image "
                                   "comes out negated around 128; use w as it is "
                                   "(cross-correlation)"),
                             lambda: bugs.conv(x, w[:, :, ::-1, ::-1], b, 1, 1)),
                            (Cause("conv_forward.no_bias",
                                   "the bias b is not added (the edge image lacks its +128)"),
                             expected - b.reshape(1, -1, 1, 1))],
                 reference="grayscale / edge images computed directly from their definitions", slips=slips)
    record_property("output", f"Checked on {source} ({config.IMAGE_SIZE}x{config.IMAGE_SIZE}).")


@check("conv_forward.extra", "conv_forward_naive")
def test_extra(case, worker, submission, slips):
    """output matches the reference (sizes, strides, padding, kernels, float32)"""
    _check(worker, submission, case, slips=slips)


@check("conv_forward.hidden", "conv_forward_naive")
def test_hidden(case, worker, submission, slips):
    """output matches the reference (hidden cases)"""
    _check(worker, submission, case, slips=slips)
