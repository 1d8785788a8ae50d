"""A catalogue of realistic wrong submissions, each one function of the solution replaced.

A mutant names the student file, the function (or `Class.method`) it replaces, the wrong code,
and what the grader must do with it: the checks whose names begin with one of `loses` must lose
points, and no check may lose points unless its name begins with a prefix in `loses`,
`allowed` or the legitimate consumers of the replaced function (USED_BY). `build_submission`
splices the wrong code into the solution source with `ast`, so the repo holds only the
replaced functions, never 30 copies of layers.py.
"""
import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solution" / "cs260"
STUDENT_FILES = ("layers.py", "classifiers/cnn.py")

# Checks that legitimately run a function besides its own (check-name prefixes or section
# tags): the sandwich layers and the network call the student's affine/relu/softmax (conv and
# pool come from the trusted fast layers), a backward check gets its cache from the student's
# forward pass, the solution's spatial batchnorm reuses batchnorm_forward/backward, and the
# "fast" section compares the student's naive conv and pool layers with the fast ones.
NET = ("sandwich", "ThreeLayerConvNet")
USED_BY = {
    "affine_forward": ("affine_backward",) + NET,
    "affine_backward": NET,
    "relu_forward": ("relu_backward",) + NET,
    "relu_backward": NET,
    "softmax_loss": ("ThreeLayerConvNet",),
    "batchnorm_forward": ("batchnorm_backward", "spatial_batchnorm"),
    "batchnorm_backward": ("spatial_batchnorm_backward",),
    "conv_forward_naive": ("conv_backward_naive", "fast"),
    "conv_backward_naive": ("fast",),
    "max_pool_forward_naive": ("max_pool_backward_naive", "fast"),
    "max_pool_backward_naive": ("fast",),
    "spatial_batchnorm_forward": ("spatial_batchnorm_backward",),
    "spatial_batchnorm_backward": (),
    "spatial_groupnorm_forward": ("spatial_groupnorm_backward",),
    "spatial_groupnorm_backward": (),
}


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str           # "layers.py" or "classifiers/cnn.py"
    target: str         # function name, or "Class.method"
    code: str           # the wrong replacement, a complete def
    loses: tuple        # check-name prefixes that must lose points
    why: str            # the bug in one line
    allowed: tuple = ()  # further prefixes that may lose points
    hint: str = ""      # a word the failing message must contain (case-insensitive)

    @property
    def function(self):
        """The replaced function's name as the checks spell it (the class for a method)."""
        return self.target.split(".")[0]

    def may_lose(self):
        """Every check-name prefix allowed to lose points for this mutant."""
        return ((self.function,) + tuple(self.loses) + tuple(self.allowed)
                + USED_BY.get(self.function, ()))


def _find(tree, target):
    """The ast node of a top-level function or a `Class.method`."""
    parts = target.split(".")
    body = tree.body
    node = None
    for part in parts:
        matches = [n for n in body
                   if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part]
        if len(matches) != 1:
            raise LookupError(f"{target}: found {len(matches)} definitions of {part!r}")
        node = matches[0]
        body = node.body
    return node


def splice(source, target, code):
    """`source` with the definition of `target` replaced by `code` (re-indented to fit)."""
    node = _find(ast.parse(source), target)
    lines = source.splitlines(keepends=True)
    first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
    indent = lines[node.lineno - 1][: node.col_offset]
    new = textwrap.indent(textwrap.dedent(code).strip("\n") + "\n", indent)
    result = "".join(lines[:first]) + new + "".join(lines[node.end_lineno:])
    replaced = _find(ast.parse(result), target)  # the result must parse and still define it
    if ast.dump(replaced) == ast.dump(node):
        raise ValueError(f"{target}: the replacement is the same code as the solution")
    return result


def apply_patch(source, patch):
    """`source` with every top-level def/class of `patch` replacing the one of the same name;
    the patch's other top-level statements (new helpers too) go, in order, right after the
    source's imports."""
    tree = ast.parse(patch)
    lines = patch.splitlines(keepends=True)
    existing = {n.name for n in ast.parse(source).body
                if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    prelude = []
    for node in tree.body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        text = "".join(lines[first - 1:node.end_lineno])
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in existing:
            source = splice(source, node.name, text)
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                  and node is tree.body[0]):  # the patch's docstring stays out
            prelude.append(text)
    if prelude:
        body = ast.parse(source).body
        imports = [n for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
        at = imports[-1].end_lineno if imports else 0
        src_lines = source.splitlines(keepends=True)
        source = "".join(src_lines[:at]) + "\n" + "".join(prelude) + "\n" + "".join(src_lines[at:])
    return source


def write_submission(dest, sources=None):
    """Write dest/cs260/layers.py and classifiers/cnn.py (the solution's unless `sources`
    maps a file to other text); return dest/cs260."""
    root = Path(dest) / "cs260"
    for rel in STUDENT_FILES:
        source = (sources or {}).get(rel)
        if source is None:
            source = (SOLUTION / rel).read_text()
        out = root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(source)
    return root


def build_submission(mutant, dest):
    """The mutant as a submission folder: dest/cs260/{layers.py,classifiers/cnn.py}."""
    source = splice((SOLUTION / mutant.file).read_text(), mutant.target, mutant.code)
    return write_submission(dest, {mutant.file: source})


def _m(name, target, code, loses, why, file="layers.py", **kw):
    return Mutant(name=name, file=file, target=target, code=code, loses=tuple(loses), why=why,
                  **kw)


# --------------------------------------------------------------------------- convolution

CONV_FORWARD_HEAD = '''
def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
'''


def _conv_forward(body):
    return CONV_FORWARD_HEAD + textwrap.indent(textwrap.dedent(body), "    ")


CONV_BACKWARD_HEAD = '''
def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, H, W = x.shape
    _, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros(x_pad.shape)
    dw = np.zeros(w.shape)
'''


def _conv_backward(body):
    return CONV_BACKWARD_HEAD + textwrap.indent(textwrap.dedent(body), "    ")


CONV = [
    _m("conv_dw_stride_bug", "conv_backward_naive", _conv_backward('''
        for i in range(H_out):
            for j in range(W_out):
                top, left = i * stride, j * stride
                d_here = dout[:, :, i, j]
                dx_pad[:, :, top:top + HH, left:left + WW] += np.tensordot(d_here, w, axes=(1, 0))
                # the field for dw slides by one pixel, whatever the stride
                dw += np.tensordot(d_here, x_pad[:, :, i:i + HH, j:j + WW], axes=(0, 0))
        dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
        db = dout.sum(axis=(0, 2, 3))
        return dx, dw, db
        '''), ["conv_backward_naive"],
       "the notebook author's bug: dw right at stride 1, wrong at stride 2", hint="stride"),
    _m("conv_no_bias", "conv_forward_naive", _conv_forward('''
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        out = np.zeros((N, F, H_out, W_out))
        for i in range(H_out):
            for j in range(W_out):
                field = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                out[:, :, i, j] = np.tensordot(field, w, axes=([1, 2, 3], [1, 2, 3]))
        return out, (x, w, b, conv_param)
        '''), ["conv_forward_naive"], "the bias is never added"),
    _m("conv_pad_one_side", "conv_forward_naive", _conv_forward('''
        # all 2*pad zeros go below and to the right
        x_pad = np.pad(x, ((0, 0), (0, 0), (0, 2 * pad), (0, 2 * pad)))
        out = np.zeros((N, F, H_out, W_out))
        for i in range(H_out):
            for j in range(W_out):
                field = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                out[:, :, i, j] = np.tensordot(field, w, axes=([1, 2, 3], [1, 2, 3])) + b
        return out, (x, w, b, conv_param)
        '''), ["conv_forward_naive"], "zero padding on one side only"),
    _m("conv_flipped_kernel", "conv_forward_naive", _conv_forward('''
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        flipped = w[:, :, ::-1, ::-1]  # true convolution instead of cross-correlation
        out = np.zeros((N, F, H_out, W_out))
        for i in range(H_out):
            for j in range(W_out):
                field = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                out[:, :, i, j] = np.tensordot(field, flipped, axes=([1, 2, 3], [1, 2, 3])) + b
        return out, (x, w, b, conv_param)
        '''), ["conv_forward_naive"], "true convolution (flipped kernel)"),
    _m("conv_hw_transposed", "conv_forward_naive", _conv_forward('''
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        out = np.zeros((N, F, W_out, H_out))
        for i in range(H_out):
            for j in range(W_out):
                field = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                out[:, :, j, i] = np.tensordot(field, w, axes=([1, 2, 3], [1, 2, 3])) + b
        return out, (x, w, b, conv_param)
        '''), ["conv_forward_naive"], "output height and width swapped (right on squares only)"),
    _m("conv_ignores_stride", "conv_forward_naive", _conv_forward('''
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        out = np.zeros((N, F, H_out, W_out))
        for i in range(H_out):
            for j in range(W_out):
                field = x_pad[:, :, i:i + HH, j:j + WW]  # steps of one pixel
                out[:, :, i, j] = np.tensordot(field, w, axes=([1, 2, 3], [1, 2, 3])) + b
        return out, (x, w, b, conv_param)
        '''), ["conv_forward_naive"], "the receptive field moves by 1 whatever the stride",
       hint="stride"),
    _m("conv_dx_not_cropped", "conv_backward_naive", _conv_backward('''
        for i in range(H_out):
            for j in range(W_out):
                top, left = i * stride, j * stride
                d_here = dout[:, :, i, j]
                dx_pad[:, :, top:top + HH, left:left + WW] += np.tensordot(d_here, w, axes=(1, 0))
                dw += np.tensordot(d_here, x_pad[:, :, top:top + HH, left:left + WW],
                                   axes=(0, 0))
        dx = dx_pad  # the padding is never cut off
        db = dout.sum(axis=(0, 2, 3))
        return dx, dw, db
        '''), ["conv_backward_naive"], "dx keeps the padding (wrong shape)"),
    _m("conv_dx_cropped_wrong_side", "conv_backward_naive", _conv_backward('''
        for i in range(H_out):
            for j in range(W_out):
                top, left = i * stride, j * stride
                d_here = dout[:, :, i, j]
                dx_pad[:, :, top:top + HH, left:left + WW] += np.tensordot(d_here, w, axes=(1, 0))
                dw += np.tensordot(d_here, x_pad[:, :, top:top + HH, left:left + WW],
                                   axes=(0, 0))
        dx = dx_pad[:, :, :H, :W]  # right shape, but cut from the bottom-right only
        db = dout.sum(axis=(0, 2, 3))
        return dx, dw, db
        '''), ["conv_backward_naive"], "padding cut from one side of dx"),
    _m("conv_db_wrong_axes", "conv_backward_naive", _conv_backward('''
        for i in range(H_out):
            for j in range(W_out):
                top, left = i * stride, j * stride
                d_here = dout[:, :, i, j]
                dx_pad[:, :, top:top + HH, left:left + WW] += np.tensordot(d_here, w, axes=(1, 0))
                dw += np.tensordot(d_here, x_pad[:, :, top:top + HH, left:left + WW],
                                   axes=(0, 0))
        dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
        db = dout.sum(axis=(0, 2, 3)) / dout.shape[0]  # averaged over the batch
        return dx, dw, db
        '''), ["conv_backward_naive"], "db divided by N (summed over the wrong axes' size)"),
    _m("conv_dw_overwritten", "conv_backward_naive", _conv_backward('''
        for i in range(H_out):
            for j in range(W_out):
                top, left = i * stride, j * stride
                d_here = dout[:, :, i, j]
                dx_pad[:, :, top:top + HH, left:left + WW] += np.tensordot(d_here, w, axes=(1, 0))
                dw = np.tensordot(d_here, x_pad[:, :, top:top + HH, left:left + WW],
                                  axes=(0, 0))  # = instead of +=
        dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
        db = dout.sum(axis=(0, 2, 3))
        return dx, dw, db
        '''), ["conv_backward_naive"], "dw keeps only the last output position"),
]

# --------------------------------------------------------------------------- max pooling

POOL_HEAD = '''
def max_pool_forward_naive(x, pool_param):
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out))
'''

POOL_BACK_HEAD = '''
def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, _, _ = x.shape
    _, _, H_out, W_out = dout.shape
    dx = np.zeros(x.shape)
'''


def _pool(head, body):
    return head + textwrap.indent(textwrap.dedent(body), "    ")


POOL = [
    _m("pool_average", "max_pool_forward_naive", _pool(POOL_HEAD, '''
        for i in range(H_out):
            for j in range(W_out):
                window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
                out[:, :, i, j] = window.mean(axis=(2, 3))
        return out, (x, pool_param)
        '''), ["max_pool_forward_naive"], "average pooling instead of max"),
    _m("pool_forward_stride_is_size", "max_pool_forward_naive", _pool(POOL_HEAD, '''
        for i in range(H_out):
            for j in range(W_out):
                top, left = i * ph, j * pw  # assumes stride == pool size
                out[:, :, i, j] = x[:, :, top:top + ph, left:left + pw].max(axis=(2, 3))
        return out, (x, pool_param)
        '''), ["max_pool_forward_naive"], "ignores the stride (wrong only on overlapping windows)"),
    _m("pool_backward_to_all", "max_pool_backward_naive", _pool(POOL_BACK_HEAD, '''
        for i in range(H_out):
            for j in range(W_out):
                top, left = i * stride, j * stride
                dx[:, :, top:top + ph, left:left + pw] += dout[:, :, i, j][:, :, None, None]
        return dx
        '''), ["max_pool_backward_naive"], "gradient spread over the whole window"),
    _m("pool_backward_stride_is_size", "max_pool_backward_naive", _pool(POOL_BACK_HEAD, '''
        for i in range(H_out):
            for j in range(W_out):
                top, left = i * ph, j * pw  # assumes stride == pool size
                window = x[:, :, top:top + ph, left:left + pw]
                mask = window == window.max(axis=(2, 3), keepdims=True)
                dx[:, :, top:top + ph, left:left + pw] += mask * dout[:, :, i, j][:, :, None, None]
        return dx
        '''), ["max_pool_backward_naive"], "ignores the stride (wrong only on overlapping windows)"),
    _m("pool_backward_ties_lost", "max_pool_backward_naive", _pool(POOL_BACK_HEAD, '''
        for i in range(H_out):
            for j in range(W_out):
                top, left = i * stride, j * stride
                window = x[:, :, top:top + ph, left:left + pw]
                mask = window == window.max(axis=(2, 3), keepdims=True)
                unique = mask.sum(axis=(2, 3), keepdims=True) == 1  # tied windows send nothing
                dx[:, :, top:top + ph, left:left + pw] += mask * unique * dout[:, :, i, j][:, :, None, None]
        return dx
        '''), ["max_pool_backward_naive"], "windows with tied maxima lose their gradient"),
    _m("pool_backward_overwrites", "max_pool_backward_naive", _pool(POOL_BACK_HEAD, '''
        for i in range(H_out):
            for j in range(W_out):
                top, left = i * stride, j * stride
                window = x[:, :, top:top + ph, left:left + pw].reshape(N, C, ph * pw)
                one_hot = np.arange(ph * pw) == window.argmax(axis=2)[:, :, None]
                routed = (one_hot * dout[:, :, i, j][:, :, None]).reshape(N, C, ph, pw)
                region = dx[:, :, top:top + ph, left:left + pw]
                # = instead of +=: a maximum shared by overlapping windows keeps one gradient
                dx[:, :, top:top + ph, left:left + pw] = np.where(routed != 0, routed, region)
        return dx
        '''), ["max_pool_backward_naive"],
       "overlapping windows overwrite instead of add (wrong only on overlap)"),
]

# --------------------------------------------------------------------------- batchnorm

SBN = [
    _m("sbn_reshape_without_transpose", "spatial_batchnorm_forward", '''
        def spatial_batchnorm_forward(x, gamma, beta, bn_param):
            N, C, H, W = x.shape
            columns = x.reshape(-1, C)  # mixes channels: no transpose first
            out_columns, cache = batchnorm_forward(columns, gamma, beta, bn_param)
            return out_columns.reshape(N, C, H, W), cache
        ''', ["spatial_batchnorm_forward"],
       "statistics over the wrong axes (reshape without transpose)"),
    _m("sbn_stats_per_example", "spatial_batchnorm_forward", '''
        def spatial_batchnorm_forward(x, gamma, beta, bn_param):
            N, C, H, W = x.shape
            if bn_param["mode"] == "test":
                columns = x.transpose(0, 2, 3, 1).reshape(-1, C)
                out_columns, cache = batchnorm_forward(columns, gamma, beta, bn_param)
                return out_columns.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache
            eps = bn_param.get("eps", 1e-5)
            momentum = bn_param.get("momentum", 0.9)
            mean = x.mean(axis=(2, 3), keepdims=True)  # per (n, c): forgets the batch axis
            var = x.var(axis=(2, 3), keepdims=True)
            x_hat = (x - mean) / np.sqrt(var + eps)
            out = gamma[None, :, None, None] * x_hat + beta[None, :, None, None]
            for key, stat in (("running_mean", mean), ("running_var", var)):
                old = bn_param.get(key, np.zeros(C, dtype=x.dtype))
                bn_param[key] = momentum * old + (1 - momentum) * stat.mean(axis=(0, 2, 3))
            columns = x_hat.transpose(0, 2, 3, 1).reshape(-1, C)
            inv_std = 1.0 / np.sqrt(x.var(axis=(0, 2, 3)) + eps)
            return out, ("train", columns, gamma, inv_std)
        ''', ["spatial_batchnorm_forward"], "statistics per example instead of over N, H, W"),
    _m("sbn_test_uses_batch_stats", "spatial_batchnorm_forward", '''
        def spatial_batchnorm_forward(x, gamma, beta, bn_param):
            N, C, H, W = x.shape
            columns = x.transpose(0, 2, 3, 1).reshape(-1, C)
            train_param = dict(bn_param, mode="train")  # test mode normalizes with batch stats
            out_columns, cache = batchnorm_forward(columns, gamma, beta, train_param)
            if bn_param["mode"] == "train":
                bn_param.update(running_mean=train_param["running_mean"],
                                running_var=train_param["running_var"])
            return out_columns.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache
        ''', ["spatial_batchnorm_forward"], "test mode uses the batch statistics"),
    _m("sbn_running_not_kept", "spatial_batchnorm_forward", '''
        def spatial_batchnorm_forward(x, gamma, beta, bn_param):
            N, C, H, W = x.shape
            columns = x.transpose(0, 2, 3, 1).reshape(-1, C)
            # a copy: the running averages never reach the caller's dict
            out_columns, cache = batchnorm_forward(columns, gamma, beta, dict(bn_param))
            return out_columns.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache
        ''', ["spatial_batchnorm_forward"], "running averages not updated"),
    _m("bn_momentum_reversed", "batchnorm_forward", '''
        def batchnorm_forward(x, gamma, beta, bn_param):
            mode = bn_param["mode"]
            eps = bn_param.get("eps", 1e-5)
            momentum = bn_param.get("momentum", 0.9)
            D = x.shape[1]
            running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
            running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
            if mode == "train":
                mean, var = x.mean(axis=0), x.var(axis=0)
                inv_std = 1.0 / np.sqrt(var + eps)
                x_hat = (x - mean) * inv_std
                out = gamma * x_hat + beta
                # the batch statistic gets the momentum weight
                running_mean = (1 - momentum) * running_mean + momentum * mean
                running_var = (1 - momentum) * running_var + momentum * var
                cache = ("train", x_hat, gamma, inv_std)
            else:
                inv_std = 1.0 / np.sqrt(running_var + eps)
                x_hat = (x - running_mean) * inv_std
                out = gamma * x_hat + beta
                cache = ("test", x_hat, gamma, inv_std)
            bn_param["running_mean"] = running_mean
            bn_param["running_var"] = running_var
            return out, cache
        ''', ["batchnorm_forward", "spatial_batchnorm_forward"], "momentum applied to the wrong term"),
    _m("bn_unbiased_variance", "batchnorm_forward", '''
        def batchnorm_forward(x, gamma, beta, bn_param):
            mode = bn_param["mode"]
            eps = bn_param.get("eps", 1e-5)
            momentum = bn_param.get("momentum", 0.9)
            D = x.shape[1]
            running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
            running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
            if mode == "train":
                mean, var = x.mean(axis=0), x.var(axis=0, ddof=1)  # unbiased variance
                inv_std = 1.0 / np.sqrt(var + eps)
                x_hat = (x - mean) * inv_std
                out = gamma * x_hat + beta
                running_mean = momentum * running_mean + (1 - momentum) * mean
                running_var = momentum * running_var + (1 - momentum) * var
                cache = ("train", x_hat, gamma, inv_std)
            else:
                inv_std = 1.0 / np.sqrt(running_var + eps)
                x_hat = (x - running_mean) * inv_std
                out = gamma * x_hat + beta
                cache = ("test", x_hat, gamma, inv_std)
            bn_param["running_mean"] = running_mean
            bn_param["running_var"] = running_var
            return out, cache
        ''', ["batchnorm_forward", "spatial_batchnorm_forward"],
       "variance with ddof=1 (matters on small batches)"),
    _m("bn_layer_norm_when_square", "batchnorm_forward", '''
        def batchnorm_forward(x, gamma, beta, bn_param):
            mode = bn_param["mode"]
            eps = bn_param.get("eps", 1e-5)
            momentum = bn_param.get("momentum", 0.9)
            D = x.shape[1]
            running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
            running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
            # picks the axis from the shapes: a layer-norm reuse hack, wrong when N == D
            axis = 1 if len(gamma) == x.shape[0] else 0
            if mode == "train":
                mean = x.mean(axis=axis, keepdims=True)
                var = x.var(axis=axis, keepdims=True)
                inv_std = 1.0 / np.sqrt(var + eps)
                x_hat = (x - mean) * inv_std
                running_mean = momentum * running_mean + (1 - momentum) * mean.reshape(-1)
                running_var = momentum * running_var + (1 - momentum) * var.reshape(-1)
                cache = ("train", x_hat, gamma, inv_std.reshape(-1))
            else:
                inv_std = 1.0 / np.sqrt(running_var + eps)
                x_hat = (x - running_mean) * inv_std
                cache = ("test", x_hat, gamma, inv_std)
            bn_param["running_mean"] = running_mean
            bn_param["running_var"] = running_var
            return gamma * x_hat + beta, cache
        ''', ["batchnorm_forward"], "statistics over the wrong axis when N == D (shape branching)",
       allowed=("batchnorm_backward",)),
    _m("sbn_backward_no_mean_term", "spatial_batchnorm_backward", '''
        def spatial_batchnorm_backward(dout, cache):
            N, C, H, W = dout.shape
            mode, x_hat, gamma, inv_std = cache
            d = dout.transpose(0, 2, 3, 1).reshape(-1, C)
            dbeta = d.sum(axis=0)
            dgamma = (d * x_hat).sum(axis=0)
            dx_hat = d * gamma
            n = d.shape[0]
            # forgets the gradient through the batch mean (the - sum(dx_hat) term)
            dx = (inv_std / n) * (n * dx_hat - x_hat * (dx_hat * x_hat).sum(axis=0))
            return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta
        ''', ["spatial_batchnorm_backward"], "dx misses the term from the batch mean"),
    _m("sbn_backward_no_transpose", "spatial_batchnorm_backward", '''
        def spatial_batchnorm_backward(dout, cache):
            N, C, H, W = dout.shape
            dout_columns = dout.transpose(0, 2, 3, 1).reshape(-1, C)
            dx_columns, dgamma, dbeta = batchnorm_backward(dout_columns, cache)
            return dx_columns.reshape(N, C, H, W), dgamma, dbeta  # forgets to transpose back
        ''', ["spatial_batchnorm_backward"], "dx reshaped back without the transpose"),
]

# --------------------------------------------------------------------------- group norm

GN_BACKWARD_OK = ["spatial_groupnorm_backward"]  # gets a broken cache / statistics

GN = [
    _m("gn_per_channel_stats", "spatial_groupnorm_forward", '''
        def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
            eps = gn_param.get("eps", 1e-5)
            N, C, H, W = x.shape
            rows = x.reshape(N, C, -1)  # statistics per channel, not per group
            mean = rows.mean(axis=2, keepdims=True)
            var = rows.var(axis=2, keepdims=True)
            x_hat = ((rows - mean) / np.sqrt(var + eps)).reshape(x.shape)
            out = gamma.reshape(1, C, 1, 1) * x_hat + beta.reshape(1, C, 1, 1)
            return out, (x_hat, gamma, 1.0 / np.sqrt(var + eps), C)
        ''', ["spatial_groupnorm_forward"], "statistics per channel instead of per group",
       allowed=GN_BACKWARD_OK),
    _m("gn_whole_example_stats", "spatial_groupnorm_forward", '''
        def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
            eps = gn_param.get("eps", 1e-5)
            N, C, H, W = x.shape
            rows = x.reshape(N, 1, -1)  # one group: G is ignored
            mean = rows.mean(axis=2, keepdims=True)
            var = rows.var(axis=2, keepdims=True)
            x_hat = ((rows - mean) / np.sqrt(var + eps)).reshape(x.shape)
            out = gamma.reshape(1, C, 1, 1) * x_hat + beta.reshape(1, C, 1, 1)
            return out, (x_hat, gamma, 1.0 / np.sqrt(var + eps), 1)
        ''', ["spatial_groupnorm_forward"], "G ignored: statistics over all channels",
       allowed=GN_BACKWARD_OK),
    _m("gn_strided_groups", "spatial_groupnorm_forward", '''
        def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
            eps = gn_param.get("eps", 1e-5)
            N, C, H, W = x.shape
            # reshape order (C // G, G): channel c lands in group c % G
            groups = x.reshape(N, C // G, G, H, W)
            mean = groups.mean(axis=(1, 3, 4), keepdims=True)
            var = groups.var(axis=(1, 3, 4), keepdims=True)
            x_hat = ((groups - mean) / np.sqrt(var + eps)).reshape(x.shape)
            out = gamma.reshape(1, C, 1, 1) * x_hat + beta.reshape(1, C, 1, 1)
            inv_std = (1.0 / np.sqrt(var + eps)).reshape(N, G, 1)
            return out, (x_hat, gamma, inv_std, G)
        ''', ["spatial_groupnorm_forward"], "groups of strided instead of consecutive channels",
       allowed=GN_BACKWARD_OK),
    _m("gn_dgamma_flat", "spatial_groupnorm_backward", '''
        def spatial_groupnorm_backward(dout, cache):
            x_hat, gamma, inv_std, G = cache
            N, C, H, W = dout.shape
            dbeta = dout.sum(axis=(0, 2, 3))           # shape (C,), not (1, C, 1, 1)
            dgamma = (dout * x_hat).sum(axis=(0, 2, 3))
            dx_hat = (dout * gamma.reshape(1, C, 1, 1)).reshape(N, G, -1)
            rows = x_hat.reshape(N, G, -1)
            m = rows.shape[2]
            dx = (inv_std / m) * (m * dx_hat - dx_hat.sum(axis=2, keepdims=True)
                                  - rows * (dx_hat * rows).sum(axis=2, keepdims=True))
            return dx.reshape(N, C, H, W), dgamma, dbeta
        ''', ["spatial_groupnorm_backward"], "dgamma/dbeta of shape (C,) instead of (1, C, 1, 1)",
       hint="shape"),
    _m("gn_backward_per_channel", "spatial_groupnorm_backward", '''
        def spatial_groupnorm_backward(dout, cache):
            x_hat, gamma, inv_std, G = cache
            N, C, H, W = dout.shape
            dbeta = dout.sum(axis=(0, 2, 3)).reshape(gamma.shape)
            dgamma = (dout * x_hat).sum(axis=(0, 2, 3)).reshape(gamma.shape)
            dx_hat = (dout * gamma.reshape(1, C, 1, 1)).reshape(N, C, -1)
            rows = x_hat.reshape(N, C, -1)  # per channel: the group's other channels are lost
            m = rows.shape[2]
            inv = np.repeat(inv_std, C // G, axis=1)
            dx = (inv / m) * (m * dx_hat - dx_hat.sum(axis=2, keepdims=True)
                              - rows * (dx_hat * rows).sum(axis=2, keepdims=True))
            return dx.reshape(N, C, H, W), dgamma, dbeta
        ''', ["spatial_groupnorm_backward"], "dx sums over each channel instead of the group"),
]

# --------------------------------------------------------------------------- prerequisites

PREREQ = [
    _m("softmax_unstable", "softmax_loss", '''
        def softmax_loss(x, y):
            n = x.shape[0]
            exp = np.exp(x)  # no max subtraction: overflows on large scores
            probs = exp / exp.sum(axis=1, keepdims=True)
            loss = -np.log(probs[np.arange(n), y]).mean()
            dx = probs.copy()
            dx[np.arange(n), y] -= 1
            return loss, dx / n
        ''', ["softmax_loss"], "no max subtraction (NaN/inf on large scores)"),
    _m("softmax_not_averaged", "softmax_loss", '''
        def softmax_loss(x, y):
            n = x.shape[0]
            shifted = x - x.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            loss = -log_probs[np.arange(n), y].sum()  # summed, not averaged over N
            dx = np.exp(log_probs)
            dx[np.arange(n), y] -= 1
            return loss, dx
        ''', ["softmax_loss"], "loss and gradient summed over N instead of averaged"),
    _m("affine_dx_flat", "affine_backward", '''
        def affine_backward(dout, cache):
            x, w, b = cache
            x_rows = x.reshape(x.shape[0], -1)
            dx = dout @ w.T  # never reshaped back to x's shape
            return dx, x_rows.T @ dout, dout.sum(axis=0)
        ''', ["affine_backward"], "dx left flat (N, D) instead of x's shape", hint="shape"),
    _m("affine_no_bias", "affine_forward", '''
        def affine_forward(x, w, b):
            out = x.reshape(x.shape[0], -1) @ w  # forgets the bias
            return out, (x, w, b)
        ''', ["affine_forward"], "affine layer without the bias"),
]

# --------------------------------------------------------------------------- ThreeLayerConvNet

CNN_LOSS_HEAD = '''
def loss(self, X, y=None):
    X = X.astype(self.dtype, copy=False)
    W1, b1 = self.params["W1"], self.params["b1"]
    W2, b2 = self.params["W2"], self.params["b2"]
    W3, b3 = self.params["W3"], self.params["b3"]
    conv_param = {"stride": 1, "pad": (self.filter_size - 1) // 2}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    pooled, cache1 = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
    hidden, cache2 = affine_relu_forward(pooled, W2, b2)
    scores, cache3 = affine_forward(hidden, W3, b3)
    if y is None:
        return scores
    grads = {}
    loss, dscores = softmax_loss(scores, y)
    dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, cache3)
    dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, cache2)
    _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dpooled, cache1)
'''


def _cnn_loss(tail):
    return CNN_LOSS_HEAD + textwrap.indent(textwrap.dedent(tail), "    ")


CNN_INIT_HEAD = '''
def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
             num_classes=10, weight_scale=1e-3, reg=0.0, dtype=np.float32):
    self.params = {}
    self.reg = reg
    self.dtype = dtype
    self.filter_size = filter_size
    C, H, W = input_dim
'''


def _cnn_init(body):
    return CNN_INIT_HEAD + textwrap.indent(textwrap.dedent(body), "    ")


CNN = "classifiers/cnn.py"
CONVNET_ONLY = ["ThreeLayerConvNet"]
CONVNET = [
    _m("cnn_reg_without_half", "ThreeLayerConvNet.loss", _cnn_loss('''
        loss += self.reg * sum(np.sum(W * W) for W in (W1, W2, W3))  # no 0.5
        for name, W in (("W1", W1), ("W2", W2), ("W3", W3)):
            grads[name] += self.reg * W
        return loss, grads
        '''), CONVNET_ONLY, "regularization loss without the 0.5 factor", file=CNN),
    _m("cnn_reg_missing_in_grads", "ThreeLayerConvNet.loss", _cnn_loss('''
        loss += 0.5 * self.reg * sum(np.sum(W * W) for W in (W1, W2, W3))
        return loss, grads  # the regularization's gradient is missing
        '''), CONVNET_ONLY, "regularization added to the loss but not to the gradients", file=CNN),
    _m("cnn_reg_on_biases", "ThreeLayerConvNet.loss", _cnn_loss('''
        params = (W1, b1, W2, b2, W3, b3)
        loss += 0.5 * self.reg * sum(np.sum(p * p) for p in params)
        for name in ("W1", "b1", "W2", "b2", "W3", "b3"):
            grads[name] += self.reg * self.params[name]
        return loss, grads
        '''), CONVNET_ONLY, "biases regularized too (wrong once biases are nonzero)", file=CNN),
    _m("cnn_pad_zero", "ThreeLayerConvNet.__init__", _cnn_init('''
        conv_h, conv_w = H - filter_size + 1, W - filter_size + 1  # as if pad = 0
        self.params["W1"] = weight_scale * np.random.randn(num_filters, C, filter_size, filter_size)
        self.params["b1"] = np.zeros(num_filters)
        self.params["W2"] = weight_scale * np.random.randn(num_filters * (conv_h // 2) * (conv_w // 2),
                                                           hidden_dim)
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b3"] = np.zeros(num_classes)
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)
        '''), CONVNET_ONLY, "W2 sized as if the convolution had no padding", file=CNN),
    _m("cnn_three_channels", "ThreeLayerConvNet.__init__", _cnn_init('''
        self.params["W1"] = weight_scale * np.random.randn(num_filters, 3, filter_size, filter_size)
        self.params["b1"] = np.zeros(num_filters)   # 3 channels written instead of C
        self.params["W2"] = weight_scale * np.random.randn(num_filters * (H // 2) * (W // 2),
                                                           hidden_dim)
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b3"] = np.zeros(num_classes)
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)
        '''), CONVNET_ONLY, "W1 built for 3 input channels whatever input_dim says", file=CNN,
       hint="channel"),
    _m("cnn_weights_unscaled", "ThreeLayerConvNet.__init__", _cnn_init('''
        self.params["W1"] = np.random.randn(num_filters, C, filter_size, filter_size)
        self.params["b1"] = np.zeros(num_filters)
        self.params["W2"] = np.random.randn(num_filters * (H // 2) * (W // 2), hidden_dim)
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = np.random.randn(hidden_dim, num_classes)  # weight_scale unused
        self.params["b3"] = np.zeros(num_classes)
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)
        '''), CONVNET_ONLY, "weights not scaled by weight_scale", file=CNN),
    _m("cnn_random_biases", "ThreeLayerConvNet.__init__", _cnn_init('''
        self.params["W1"] = weight_scale * np.random.randn(num_filters, C, filter_size, filter_size)
        self.params["b1"] = weight_scale * np.random.randn(num_filters)
        self.params["W2"] = weight_scale * np.random.randn(num_filters * (H // 2) * (W // 2),
                                                           hidden_dim)
        self.params["b2"] = weight_scale * np.random.randn(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b3"] = weight_scale * np.random.randn(num_classes)
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)
        '''), CONVNET_ONLY, "biases start random instead of zero", file=CNN),
    _m("cnn_dtype_ignored", "ThreeLayerConvNet.__init__", _cnn_init('''
        self.params["W1"] = weight_scale * np.random.randn(num_filters, C, filter_size, filter_size)
        self.params["b1"] = np.zeros(num_filters)
        self.params["W2"] = weight_scale * np.random.randn(num_filters * (H // 2) * (W // 2),
                                                           hidden_dim)
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b3"] = np.zeros(num_classes)  # parameters stay float64 whatever dtype says
        '''), CONVNET_ONLY, "parameters not cast to dtype", file=CNN),
    _m("cnn_scores_before_relu", "ThreeLayerConvNet.loss", '''
        def loss(self, X, y=None):
            X = X.astype(self.dtype, copy=False)
            W1, b1 = self.params["W1"], self.params["b1"]
            W2, b2 = self.params["W2"], self.params["b2"]
            W3, b3 = self.params["W3"], self.params["b3"]
            conv_param = {"stride": 1, "pad": (self.filter_size - 1) // 2}
            pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
            pooled, cache1 = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
            hidden, cache2 = affine_forward(pooled, W2, b2)  # the hidden ReLU is missing
            scores, cache3 = affine_forward(hidden, W3, b3)
            if y is None:
                return scores
            grads = {}
            loss, dscores = softmax_loss(scores, y)
            loss += 0.5 * self.reg * sum(np.sum(W * W) for W in (W1, W2, W3))
            dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, cache3)
            dpooled, grads["W2"], grads["b2"] = affine_backward(dhidden, cache2)
            _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dpooled, cache1)
            for name, W in (("W1", W1), ("W2", W2), ("W3", W3)):
                grads[name] += self.reg * W
            return loss, grads
        ''', CONVNET_ONLY, "no ReLU after the hidden affine layer", file=CNN),
]

CATALOGUE = CONV + POOL + SBN + GN + PREREQ + CONVNET
BY_NAME = {m.name: m for m in CATALOGUE}
assert len(BY_NAME) == len(CATALOGUE), "duplicate mutant names"
