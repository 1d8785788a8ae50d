"""A corpus of realistic student mistakes, each with the diagnosis the grader must give.

Written for this project (no student's code): the mistakes that recur in real submissions of
this homework (conv backward broken at pad = 0, normalizations over the wrong axes, test-mode
batchnorm, channels reshaped without the transpose, softmax without the max shift) and code
written for numpy 1 that fails on numpy 2. Every entry is a `mutants.Mutant` (one function of
the solution replaced, see tests/mutants.py) plus `diagnosis`: the stable key
(grader.feedback.causes.CAUSES) that a failing check of `mutant.function` must carry in
results.json (`extra_data.diagnoses`).
"""
from dataclasses import dataclass

from mutants import (CNN, GN_BACKWARD_OK, POOL_BACK_HEAD, Mutant, _cnn_init, _cnn_loss,
                     _conv_backward, _conv_forward, _m, _pool)


@dataclass(frozen=True)
class Bug:
    mutant: Mutant
    diagnosis: str          # key that must appear on a failing check of the function

    @property
    def name(self):
        return self.mutant.name


def _bug(diagnosis, name, target, code, why, loses=None, **kw):
    return Bug(_m(name, target, code, loses or [target.split(".")[0]], why, **kw), diagnosis)


# --------------------------------------------------------------------------- convolution

_CONV_BACK_LOOP = '''
for i in range(H_out):
    for j in range(W_out):
        top, left = i * stride, j * stride
        d_here = dout[:, :, i, j]
        dx_pad[:, :, top:top + HH, left:left + WW] += np.tensordot(d_here, w, axes=(1, 0))
        dw += np.tensordot(d_here, x_pad[:, :, top:top + HH, left:left + WW], axes=(0, 0))
'''

CONV = [
    _bug("conv_backward.pad0_empty_crop", "rb_conv_crop_minus_pad", "conv_backward_naive",
         _conv_backward(_CONV_BACK_LOOP + '''
dx = dx_pad[:, :, pad:-pad, pad:-pad]  # empty when pad == 0
db = dout.sum(axis=(0, 2, 3))
return dx, dw, db
'''), "dx cropped with pad:-pad (empty at pad = 0)", hint="pad"),
    _bug("conv_backward.pad0_empty_crop", "rb_conv_crop_minus_pad_einsum", "conv_backward_naive",
         '''
def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    s, p = conv_param["stride"], conv_param["pad"]
    F, C, kh, kw = w.shape
    _, _, oh, ow = dout.shape
    xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)], mode="constant")
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for a in range(kh):
        for c in range(kw):
            rows = slice(a, a + s * oh, s)
            cols = slice(c, c + s * ow, s)
            dw[:, :, a, c] = np.einsum("nfij,ncij->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nfij,fc->ncij", dout, w[:, :, a, c])
    return dxp[:, :, p:-p, p:-p], dw, np.sum(dout, axis=(0, 2, 3))
''', "offset-loop conv backward, dx cropped with p:-p"),
    _bug("conv_backward.dx_overwrite", "rb_conv_dx_assign", "conv_backward_naive",
         _conv_backward('''
for i in range(H_out):
    for j in range(W_out):
        top, left = i * stride, j * stride
        d_here = dout[:, :, i, j]
        # = instead of +=: overlapping windows lose each other's gradient
        dx_pad[:, :, top:top + HH, left:left + WW] = np.tensordot(d_here, w, axes=(1, 0))
        dw += np.tensordot(d_here, x_pad[:, :, top:top + HH, left:left + WW], axes=(0, 0))
dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
return dx, dw, dout.sum(axis=(0, 2, 3))
'''), "dx_pad[...] = instead of += (overlapping windows)"),
    _bug("conv_backward.dx_no_stride", "rb_conv_dx_no_stride", "conv_backward_naive",
         _conv_backward('''
for i in range(H_out):
    for j in range(W_out):
        d_here = dout[:, :, i, j]
        dx_pad[:, :, i:i + HH, j:j + WW] += np.tensordot(d_here, w, axes=(1, 0))  # no stride
        top, left = i * stride, j * stride
        dw += np.tensordot(d_here, x_pad[:, :, top:top + HH, left:left + WW], axes=(0, 0))
dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
return dx, dw, dout.sum(axis=(0, 2, 3))
'''), "dx windows placed without the stride", hint="stride"),
    _bug("conv_backward.dw_overwrite", "rb_conv_dw_assign", "conv_backward_naive",
         _conv_backward('''
for i in range(H_out):
    for j in range(W_out):
        top, left = i * stride, j * stride
        d_here = dout[:, :, i, j]
        dx_pad[:, :, top:top + HH, left:left + WW] += np.tensordot(d_here, w, axes=(1, 0))
        dw[:] = np.einsum("nf,nchw->fchw", d_here, x_pad[:, :, top:top + HH, left:left + WW])
dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
return dx, dw, dout.sum(axis=(0, 2, 3))
'''), "dw[:] = instead of += (only the last window)"),
]

# --------------------------------------------------------------------------- max pooling

POOL = [
    _bug("pool_backward.overwrite", "rb_pool_dx_assign_window", "max_pool_backward_naive",
         _pool(POOL_BACK_HEAD, '''
for i in range(H_out):
    for j in range(W_out):
        top, left = i * stride, j * stride
        window = x[:, :, top:top + ph, left:left + pw].reshape(N, C, -1)
        hot = (np.arange(ph * pw) == window.argmax(axis=2)[..., None]).reshape(N, C, ph, pw)
        # the whole window is assigned: zeros wipe what an overlapping window put there
        dx[:, :, top:top + ph, left:left + pw] = hot * dout[:, :, i, j][:, :, None, None]
return dx
'''), "dx[window] = mask * dout (overwrites overlapping windows)"),
]

# --------------------------------------------------------------------------- batchnorm

_BN_HEAD = '''
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
'''
_BN_TRAIN = '''
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat = (x - mu) * inv_std
        out = gamma * x_hat + beta
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
        cache = ("train", x_hat, gamma, inv_std)
'''
_BN_TAIL = '''
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache
'''


def _bn(train, test):
    return _BN_HEAD + train + test + _BN_TAIL


BN = [
    _bug("batchnorm.test_batch_stats", "rb_bn_test_batch_stats", "batchnorm_forward", _bn(_BN_TRAIN, '''
    else:
        mu, var = x.mean(axis=0), x.var(axis=0)  # the test batch's own statistics
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat = (x - mu) * inv_std
        out = gamma * x_hat + beta
        cache = ("test", x_hat, gamma, inv_std)
'''), "test mode normalizes with the batch statistics",
         loses=["batchnorm_forward", "spatial_batchnorm_forward"]),
    _bug("batchnorm.test_no_scale_shift", "rb_bn_test_no_gamma", "batchnorm_forward", _bn(_BN_TRAIN, '''
    else:
        inv_std = 1.0 / np.sqrt(running_var + eps)
        x_hat = (x - running_mean) * inv_std
        out = x_hat  # gamma and beta forgotten at test time
        cache = ("test", x_hat, gamma, inv_std)
'''), "test mode drops gamma and beta"),
    _bug("batchnorm.test_eps_missing", "rb_bn_test_no_eps", "batchnorm_forward", _bn(_BN_TRAIN, '''
    else:
        x_hat = (x - running_mean) / np.sqrt(running_var)
        out = gamma * x_hat + beta
        cache = ("test", x_hat, gamma, 1.0 / np.sqrt(running_var))
'''), "test mode without eps"),
    _bug("batchnorm.no_scale_shift", "rb_bn_train_no_gamma", "batchnorm_forward", _bn('''
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        inv_std = 1.0 / np.sqrt(var + eps)
        out = (x - mu) * inv_std  # never scaled and shifted
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
        cache = ("train", out, gamma, inv_std)
''', '''
    else:
        inv_std = 1.0 / np.sqrt(running_var + eps)
        x_hat = (x - running_mean) * inv_std
        out = gamma * x_hat + beta
        cache = ("test", x_hat, gamma, inv_std)
'''), "train mode without gamma and beta",
         loses=["batchnorm_forward", "spatial_batchnorm_forward"],
         allowed=["batchnorm_backward", "spatial_batchnorm_backward"]),
]

SBN = [
    _bug("batchnorm.test_batch_stats", "rb_sbn_test_batch_stats", "spatial_batchnorm_forward", '''
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    eps = bn_param.get("eps", 1e-5)
    m = bn_param.get("momentum", 0.9)
    mean = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))
    if bn_param["mode"] == "train":
        bn_param["running_mean"] = m * bn_param.get("running_mean", np.zeros(C)) + (1 - m) * mean
        bn_param["running_var"] = m * bn_param.get("running_var", np.zeros(C)) + (1 - m) * var
    # batch statistics in both modes
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean[None, :, None, None]) * inv_std[None, :, None, None]
    out = gamma[None, :, None, None] * x_hat + beta[None, :, None, None]
    return out, ("train", x_hat.transpose(0, 2, 3, 1).reshape(-1, C), gamma, inv_std)
''', "spatial batchnorm test mode with the batch statistics"),
    _bug("batchnorm.test_no_scale_shift", "rb_sbn_test_no_gamma", "spatial_batchnorm_forward", '''
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    if bn_param["mode"] == "test":
        eps = bn_param.get("eps", 1e-5)
        mean = bn_param["running_mean"].reshape(1, C, 1, 1)
        var = bn_param["running_var"].reshape(1, C, 1, 1)
        return (x - mean) / np.sqrt(var + eps), None  # no gamma, no beta
    columns = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out_columns, cache = batchnorm_forward(columns, gamma, beta, bn_param)
    return out_columns.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache
''', "spatial batchnorm test mode without gamma and beta"),
    _bug("spatial_batchnorm.reshape_without_transpose", "rb_sbn_reshape_only",
         "spatial_batchnorm_forward", '''
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    flat = np.reshape(x, (N * H * W, C))  # C is not the last axis: columns mix channels
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    return np.reshape(out, (N, C, H, W)), cache
''', "reshaped to (N*H*W, C) without the transpose", allowed=["spatial_batchnorm_backward"]),
    _bug("spatial_batchnorm.not_transposed_back", "rb_sbn_out_not_transposed",
         "spatial_batchnorm_forward", '''
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    columns = np.moveaxis(x, 1, -1).reshape(-1, C)
    out_columns, cache = batchnorm_forward(columns, gamma, beta, bn_param)
    return out_columns.reshape(N, C, H, W), cache  # back without moving C forward
''', "output reshaped back without the transpose"),
    _bug("spatial_batchnorm_backward.dx_not_transposed_back", "rb_sbn_bwd_dx_reshape",
         "spatial_batchnorm_backward", '''
def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    d_cols = np.moveaxis(dout, 1, 3).reshape(N * H * W, C)
    dx_cols, dgamma, dbeta = batchnorm_backward(d_cols, cache)
    return dx_cols.reshape(N, C, H, W), dgamma, dbeta
''', "dx reshaped back without the transpose"),
    _bug("spatial_batchnorm_backward.dout_reshape_without_transpose", "rb_sbn_bwd_dout_reshape",
         "spatial_batchnorm_backward", '''
def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    dx_cols, dgamma, dbeta = batchnorm_backward(dout.reshape(-1, C), cache)
    return dx_cols.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta
''', "dout reshaped to columns without the transpose"),
]

# --------------------------------------------------------------------------- group norm

_GN_TAIL = '''
    x_hat = x_hat.reshape(N, C, H, W)
    out = gamma.reshape(1, C, 1, 1) * x_hat + beta.reshape(1, C, 1, 1)
    return out, (x_hat, gamma, inv_std, G)
'''

GN = [
    _bug("group_norm.stats_across_groups", "rb_gn_mean_over_groups", "spatial_groupnorm_forward", '''
def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=1, keepdims=True)   # axis 1 is the group axis: across the groups
    var = xg.var(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (xg - mu) * inv_std
''' + _GN_TAIL, "statistics over the group axis", allowed=GN_BACKWARD_OK),
    _bug("group_norm.groups_mix_examples", "rb_gn_reshape_G_first", "spatial_groupnorm_forward", '''
def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    xg = x.reshape(G, -1)   # forgets the batch axis: groups straddle examples
    mu = xg.mean(axis=1, keepdims=True)
    var = xg.var(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (xg - mu) * inv_std
''' + _GN_TAIL, "x.reshape(G, -1) mixes the examples", allowed=GN_BACKWARD_OK),
    _bug("group_norm.per_channel", "rb_gn_loops_per_channel", "spatial_groupnorm_forward", '''
def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    x_hat = np.empty(x.shape)
    inv_std = np.empty((N, C, 1))
    for n in range(N):
        for c in range(C):   # one channel at a time: G is never used
            plane = x[n, c]
            inv_std[n, c] = 1.0 / np.sqrt(plane.var() + eps)
            x_hat[n, c] = (plane - plane.mean()) * inv_std[n, c]
''' + _GN_TAIL, "statistics per channel, written with loops", allowed=GN_BACKWARD_OK),
    _bug("group_norm.stats_channels_only", "rb_gn_stats_over_channels", "spatial_groupnorm_forward", '''
def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, C // G, H, W)
    mu = xg.mean(axis=2, keepdims=True)   # over the group's channels only, per pixel
    var = xg.var(axis=2, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (xg - mu) * inv_std
''' + _GN_TAIL, "statistics over the group's channels, not H and W", allowed=GN_BACKWARD_OK),
    _bug("group_norm_backward.per_channel", "rb_gn_bwd_channel_sums", "spatial_groupnorm_backward", '''
def spatial_groupnorm_backward(dout, cache):
    x_hat, gamma, inv_std, G = cache
    N, C, H, W = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True)
    g = dout * gamma
    inv = np.repeat(inv_std.reshape(N, G, 1, 1), C // G, axis=1).reshape(N, C, 1, 1)
    m = H * W
    # the sums run over each channel's H x W positions instead of the whole group
    dx = inv / m * (m * g - g.sum(axis=(2, 3), keepdims=True)
                    - x_hat * (g * x_hat).sum(axis=(2, 3), keepdims=True))
    return dx, dgamma, dbeta
''', "backward sums per channel instead of per group"),
    _bug("group_norm_backward.constant_stats", "rb_gn_bwd_constant_stats", "spatial_groupnorm_backward", '''
def spatial_groupnorm_backward(dout, cache):
    x_hat, gamma, inv_std, G = cache
    N, C, H, W = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3)).reshape(gamma.shape)
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3)).reshape(gamma.shape)
    scale = np.broadcast_to(inv_std, (N, G, C // G * H * W)).reshape(N, C, H, W)
    dx = dout * gamma.reshape(1, C, 1, 1) * scale   # as if mean and variance were constants
    return dx, dgamma, dbeta
''', "backward treats the group statistics as constants"),
]

# --------------------------------------------------------------------------- softmax

SOFTMAX = [
    _bug("softmax_loss.no_max_shift", "rb_softmax_no_shift", "softmax_loss", '''
def softmax_loss(x, y):
    N = x.shape[0]
    scores = np.exp(x)
    p = scores / np.sum(scores, axis=1, keepdims=True)
    loss = np.sum(-np.log(p[range(N), y])) / N
    dx = p
    dx[range(N), y] -= 1
    return loss, dx / N
''', "softmax probabilities from exp(x) without the max shift"),
    _bug("softmax_loss.no_max_shift", "rb_softmax_logsumexp_no_shift", "softmax_loss", '''
def softmax_loss(x, y):
    n = len(y)
    log_norm = np.log(np.exp(x).sum(axis=1))   # log-sum-exp without subtracting the max
    loss = np.mean(log_norm - x[np.arange(n), y])
    dx = np.exp(x - log_norm[:, None])
    dx[np.arange(n), y] -= 1
    return loss, dx / n
''', "log-sum-exp without the max shift"),
]

# --------------------------------------------------------------------------- numpy 1 code

NUMPY1 = [
    _bug("numpy2.removed_alias", "rb_np_float_dtype", "conv_forward_naive", _conv_forward('''
x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
out = np.zeros((N, F, H_out, W_out), dtype=np.float)   # numpy 1 alias
for i in range(H_out):
    for j in range(W_out):
        field = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
        out[:, :, i, j] = np.tensordot(field, w, axes=([1, 2, 3], [1, 2, 3])) + b
return out, (x, w, b, conv_param)
'''), "np.float (removed alias)", hint="numpy"),
    _bug("numpy2.removed_alias", "rb_np_int_sizes", "max_pool_forward_naive", '''
def max_pool_forward_naive(x, pool_param):
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    s = pool_param["stride"]
    N, C, H, W = x.shape
    H_out = np.int(1 + (H - ph) / s)
    W_out = np.int(1 + (W - pw) / s)
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = x[:, :, i * s:i * s + ph, j * s:j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)
''', "np.int for the output size", hint="numpy"),
    _bug("numpy2.reshape_newshape", "rb_np_reshape_newshape", "affine_forward", '''
def affine_forward(x, w, b):
    rows = np.reshape(x, newshape=(x.shape[0], -1))
    return rows @ w + b, (x, w, b)
''', "np.reshape(..., newshape=...)", hint="newshape"),
    _bug("numpy2.removed_name", "rb_np_float_default_arg", "relu_forward", '''
def relu_forward(x, dtype=np.float_):   # evaluated when layers.py is imported
    out = np.maximum(x, 0).astype(dtype)
    return out, x
''', "np.float_ at import time: nothing in layers.py loads",
         loses=["relu_forward", "conv_forward_naive", "affine_forward"]),
    _bug("numpy2.copy_false", "rb_np_array_copy_false", "conv_forward_naive", _conv_forward('''
x = np.array(x, dtype=np.float64, copy=False)   # numpy 1: "copy only if needed"
x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
out = np.zeros((N, F, H_out, W_out))
for i in range(H_out):
    for j in range(W_out):
        field = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
        out[:, :, i, j] = np.tensordot(field, w, axes=([1, 2, 3], [1, 2, 3])) + b
return out, (x, w, b, conv_param)
'''), "np.array(..., copy=False) on float32 input", hint="asarray"),
]

# --------------------------------------------------------------------------- found in real code
# Mistake classes that real past submissions showed (issue 16), each written anew here.

REAL = [
    _bug("numpy.array_to_scalar", "rb_pool_back_int_of_where", "max_pool_backward_naive",
         _pool(POOL_BACK_HEAD, '''
for n in range(N):
    for c in range(C):
        for i in range(H_out):
            for j in range(W_out):
                patch = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                r, q = np.where(patch == patch.max())   # arrays of one element
                dx[n, c, i * stride + int(r), j * stride + int(q)] += dout[n, c, i, j]
return dx
'''), "int() of the one-element arrays np.where returns (NumPy 2.4 raises)", hint="2.4"),
    _bug("numpy.sequence_into_element", "rb_conv_dot_into_element", "conv_forward_naive",
         _conv_forward('''
x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
out = np.zeros((N, F, H_out, W_out))
for n in range(N):
    for f in range(F):
        for i in range(H_out):
            for j in range(W_out):
                col = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                out[n, f, i, j] = col.reshape(1, -1) @ w[f].reshape(-1, 1) + b[f]   # (1, 1)
return out, (x, w, b, conv_param)
'''), "a (1, 1) product assigned to one element (NumPy 2.4 raises)", hint="2.4",
         loses=["conv_forward_naive", "conv_backward_naive"]),
    _bug("numpy2.lib_namespace", "rb_conv_np_lib_pad", "conv_forward_naive", _conv_forward('''
x_pad = np.lib.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), "constant")
out = np.zeros((N, F, H_out, W_out))
for i in range(H_out):
    for j in range(W_out):
        field = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
        out[:, :, i, j] = np.tensordot(field, w, axes=([1, 2, 3], [1, 2, 3])) + b
return out, (x, w, b, conv_param)
'''), "np.lib.pad (gone in NumPy 2)", hint="np.pad",
         loses=["conv_forward_naive", "conv_backward_naive"]),
    _bug("exception.float_size", "rb_pool_true_division_size", "max_pool_forward_naive", '''
def max_pool_forward_naive(x, pool_param):
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    s = pool_param["stride"]
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) / s          # a float, even when it divides exactly
    W_out = 1 + (W - pw) / s
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = x[:, :, i * s:i * s + ph, j * s:j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)
''', "output size with / instead of //", hint="//",
         loses=["max_pool_forward_naive", "max_pool_backward_naive"]),
    _bug("conv_backward.pad0_empty_crop", "rb_conv_assign_empty_crop", "conv_backward_naive",
         _conv_backward(_CONV_BACK_LOOP + '''
dx = np.zeros(x.shape)
for n in range(x.shape[0]):
    dx[n] = dx_pad[n, :, pad:-pad, pad:-pad]   # broadcast error when pad == 0
return dx, dw, dout.sum(axis=(0, 2, 3))
'''), "the empty pad:-pad crop assigned into dx (raises at pad = 0)", hint="pad"),
    _bug("conv_backward.pad_fixed_one", "rb_conv_crop_one", "conv_backward_naive",
         _conv_backward(_CONV_BACK_LOOP + '''
dx = dx_pad[:, :, 1:-1, 1:-1]   # as if pad were always 1
return dx, dw, dout.sum(axis=(0, 2, 3))
'''), "dx cut by 1 whatever the padding"),
    _bug("pool_backward.max_lookup_outside", "rb_pool_back_value_in_channel",
         "max_pool_backward_naive", _pool(POOL_BACK_HEAD, '''
for n in range(N):
    for c in range(C):
        for i in range(H_out):
            for j in range(W_out):
                top = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw].max()
                dx[n, c] += (x[n, c] == top) * dout[n, c, i, j]   # anywhere in the channel
return dx
'''), "the window's maximum found by value in the whole channel"),
    _bug("batchnorm.test_eps_outside", "rb_bn_test_eps_outside", "batchnorm_forward",
         _bn(_BN_TRAIN, '''
    else:
        x_hat = (x - running_mean) / (np.sqrt(running_var) + eps)
        out = gamma * x_hat + beta
        cache = ("test", x_hat, gamma, 1.0 / np.sqrt(running_var + eps))
'''), "test mode: eps added to the standard deviation",
         loses=["batchnorm_forward", "spatial_batchnorm_forward"]),
    _bug("batchnorm.running_var_eps", "rb_bn_running_var_eps", "batchnorm_forward", _bn('''
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0) + eps   # eps folded into the variance
        inv_std = 1.0 / np.sqrt(var)
        x_hat = (x - mu) * inv_std
        out = gamma * x_hat + beta
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
        cache = ("train", x_hat, gamma, inv_std)
''', '''
    else:
        inv_std = 1.0 / np.sqrt(running_var + eps)
        x_hat = (x - running_mean) * inv_std
        out = gamma * x_hat + beta
        cache = ("test", x_hat, gamma, inv_std)
'''), "running variance keeps var + eps", loses=["batchnorm_forward", "spatial_batchnorm_forward"]),
    _bug("softmax_loss.log_epsilon", "rb_softmax_log_plus_eps", "softmax_loss", '''
def softmax_loss(x, y):
    n = len(y)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y] + 1e-12))   # "avoid log(0)"
    dx = p.copy()
    dx[np.arange(n), y] -= 1
    return loss, dx / n
''', "a constant added inside the log", allowed=["ThreeLayerConvNet"]),
    _bug("shape.extra_axes", "rb_gn_gamma_expanded", "spatial_groupnorm_forward", '''
def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True)
    var = xg.var(axis=2, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = ((xg - mu) * inv_std).reshape(N, C, H, W)
    # gamma is (1, C, 1, 1) already: two more axes make it (1, C, 1, 1, 1, 1), and the
    # product (1, C, N, C, H, W) pairs every gamma[c] with every channel
    out = gamma[..., None, None] * x_hat + beta[..., None, None]
    return out, (x_hat, gamma, inv_std, G)
''', "gamma and beta given extra axes", allowed=GN_BACKWARD_OK),
    _bug("pattern.g_one", "rb_gn_squeezed_var", "spatial_groupnorm_forward", '''
def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2)
    inv_std = (1.0 / np.sqrt(xg.var(axis=2) + eps)).squeeze()   # (N,) when G == 1
    x_hat = ((xg - mu[:, :, None]) * inv_std[:, :, None]).reshape(N, C, H, W)
    out = gamma.reshape(1, C, 1, 1) * x_hat + beta.reshape(1, C, 1, 1)
    return out, (x_hat, gamma, inv_std, G)
''', "squeeze() drops the group axis when G == 1", allowed=GN_BACKWARD_OK),
    _bug("pattern.rect_window", "rb_pool_argmax_unravel_by_height", "max_pool_forward_naive", '''
def max_pool_forward_naive(x, pool_param):
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    s = pool_param["stride"]
    N, C, H, W = x.shape
    H_out, W_out = 1 + (H - ph) // s, 1 + (W - pw) // s
    out = np.zeros((N, C, H_out, W_out))
    where = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    patch = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    k = np.argmax(patch)
                    out[n, c, i, j] = patch.max()
                    where[n, c, i * s + k // ph, j * s + k % ph] = 1   # ph where pw belongs
    return out, (x, pool_param)
''', "a flat argmax unravelled with pool_height (IndexError on rectangular windows)"),
    _bug("pattern.nonsquare_output", "rb_conv_width_loop_by_height", "conv_forward_naive",
         _conv_forward('''
x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
out = np.zeros((N, F, H_out, W_out))
for i in range(H_out):
    for j in range(H_out):                  # H_out where W_out belongs
        field = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
        out[:, :, i, j] = np.tensordot(field, w, axes=([1, 2, 3], [1, 2, 3])) + b
return out, (x, w, b, conv_param)
'''), "columns looped up to H_out: wrong where H_out < W_out",
         loses=["conv_forward_naive"], allowed=["conv_backward_naive"]),
    _bug("pattern.one_d", "rb_relu_two_axes", "relu_forward", '''
def relu_forward(x):
    out = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):          # needs a second axis
            out[i, j] = np.maximum(x[i, j], 0)
    return out, x
''', "loops over two axes: raises on a 1-D x", allowed=["relu_backward"]),
]

# --------------------------------------------------------------------------- issue 25
# Classes the reading of real pointers found without a detector, or with one that misled.

_REG_GRADS = '''
for name, W in (("W1", W1), ("W2", W2), ("W3", W3)):
    grads[name] += self.reg * W
return loss, grads
'''

CONVNET = [
    _bug("convnet.reg_sum_squared", "rb_cnn_square_of_sum", "ThreeLayerConvNet.loss",
         _cnn_loss('''
loss += 0.5 * self.reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2) + np.sum(W3) ** 2)  # W3: sum, squared
''' + _REG_GRADS), "the last weight's term written np.sum(W3) ** 2", hint="W3", file=CNN),
    _bug("convnet.reg_one_missing", "rb_cnn_reg_w2_left_out", "ThreeLayerConvNet.loss",
         _cnn_loss('''
loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W3 * W3))   # W2 forgotten
''' + _REG_GRADS), "the regularization of W2 left out of the loss", hint="W2", file=CNN),
    _bug("convnet.reg_grad_sum", "rb_cnn_reg_grad_of_sum", "ThreeLayerConvNet.loss", _cnn_loss('''
loss += 0.5 * self.reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2) + np.sum(W3 ** 2))
for name, W in (("W1", W1), ("W2", W2), ("W3", W3)):
    grads[name] += self.reg * np.sum(W)      # one number for every entry
return loss, grads
'''), "the regularization gradient reg * np.sum(W)", file=CNN),
    _bug("convnet.reg_grad_double", "rb_cnn_reg_grad_double", "ThreeLayerConvNet.loss", _cnn_loss('''
loss += 0.5 * self.reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2) + np.sum(W3 ** 2))
for name, W in (("W1", W1), ("W2", W2), ("W3", W3)):
    grads[name] += 2 * self.reg * W          # the 0.5 forgotten in the derivative
return loss, grads
'''), "the regularization gradient 2 * reg * W with the 0.5 in the loss", file=CNN),
    _bug("convnet.relu_on_scores", "rb_cnn_relu_on_scores", "ThreeLayerConvNet.loss", '''
def loss(self, X, y=None):
    W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
    W3, b3 = self.params["W3"], self.params["b3"]
    conv_param = {"stride": 1, "pad": (W1.shape[2] - 1) // 2}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    h1, c1 = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
    h2, c2 = affine_relu_forward(h1, W2, b2)
    scores, c3 = affine_relu_forward(h2, W3, b3)       # a ReLU on the scores too
    if y is None:
        return scores
    loss, d = softmax_loss(scores, y)
    loss += 0.5 * self.reg * sum(np.sum(W * W) for W in (W1, W2, W3))
    grads = {}
    d, grads["W3"], grads["b3"] = affine_relu_backward(d, c3)
    d, grads["W2"], grads["b2"] = affine_relu_backward(d, c2)
    _, grads["W1"], grads["b1"] = conv_relu_pool_backward(d, c1)
    for k, W in (("W1", W1), ("W2", W2), ("W3", W3)):
        grads[k] += self.reg * W
    return loss, grads
''', "the last layer through affine_relu_forward", hint="relu", file=CNN),
    _bug("exception.undefined_name", "rb_cnn_grads_typo", "ThreeLayerConvNet.loss", _cnn_loss('''
loss += 0.5 * self.reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2) + np.sum(W3 ** 2))
for name, W in (("W1", W1), ("W2", W2), ("W3", W3)):
    gradients[name] += self.reg * W          # a name never assigned
return loss, grads
'''), "a typo for grads (NameError)", hint="gradients", file=CNN),
    _bug("convnet.bias_shape", "rb_cnn_scalar_bias", "ThreeLayerConvNet.__init__", _cnn_init('''
self.params["W1"] = weight_scale * np.random.randn(num_filters, C, filter_size, filter_size)
self.params["b1"] = np.zeros_like(num_filters)      # of a number: a 0-d array
self.params["W2"] = weight_scale * np.random.randn(num_filters * (H // 2) * (W // 2), hidden_dim)
self.params["b2"] = np.zeros(hidden_dim)
self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
self.params["b3"] = np.zeros(num_classes)
for k, v in self.params.items():
    self.params[k] = v.astype(dtype)
'''), "b1 from np.zeros_like(num_filters), a scalar", hint="zeros_like", file=CNN),
    _bug("convnet.w2_rows", "rb_cnn_w2_square_input", "ThreeLayerConvNet.__init__", _cnn_init('''
self.params["W1"] = weight_scale * np.random.randn(num_filters, C, filter_size, filter_size)
self.params["b1"] = np.zeros(num_filters)
self.params["W2"] = weight_scale * np.random.randn(num_filters * (W // 2) ** 2, hidden_dim)
self.params["b2"] = np.zeros(hidden_dim)            # W2's rows as if the input were square
self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
self.params["b3"] = np.zeros(num_classes)
for k, v in self.params.items():
    self.params[k] = v.astype(dtype)
'''), "W2's rows computed as if H == W", hint="rows", file=CNN),
]

MORE = [
    _bug("group_norm.g_as_group_size", "rb_gn_G_channels_per_group", "spatial_groupnorm_forward",
         '''
def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    xg = x.reshape(N, C // G, -1)        # G read as the channels per group
    mu = xg.mean(axis=2, keepdims=True)
    var = xg.var(axis=2, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (xg - mu) * inv_std
''' + _GN_TAIL, "G taken as the group size", allowed=GN_BACKWARD_OK),
    _bug("softmax_loss.hinge", "rb_softmax_as_svm", "softmax_loss", '''
def softmax_loss(x, y):
    n = len(y)
    right = x[np.arange(n), y][:, None]
    margins = np.maximum(0, x - right + 1)
    margins[np.arange(n), y] = 0
    loss = margins.sum() / n                  # the SVM loss of the previous assignment
    dx = (margins > 0).astype(float)
    dx[np.arange(n), y] = -dx.sum(axis=1)
    return loss, dx / n
''', "the multiclass SVM loss where softmax belongs", hint="hinge"),
    _bug("batchnorm.running_var_ones", "rb_bn_running_var_from_ones", "batchnorm_forward",
         _bn(_BN_TRAIN, '''
    else:
        inv_std = 1.0 / np.sqrt(running_var + eps)
        out = gamma * (x - running_mean) * inv_std + beta
        cache = ("test", (x - running_mean) * inv_std, gamma, inv_std)
''').replace('running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))',
               'running_var = bn_param.get("running_var", np.ones(D, dtype=x.dtype))'),
         "running_var defaults to ones", loses=["batchnorm_forward", "spatial_batchnorm_forward"]),
    _bug("batchnorm.wrong_eps", "rb_bn_default_eps_1e4", "batchnorm_forward",
         _bn(_BN_TRAIN, '''
    else:
        inv_std = 1.0 / np.sqrt(running_var + eps)
        out = gamma * (x - running_mean) * inv_std + beta
        cache = ("test", (x - running_mean) * inv_std, gamma, inv_std)
''').replace('eps = bn_param.get("eps", 1e-5)', 'eps = bn_param.get("eps", 1e-4)'),
         "a default eps of 1e-4", hint="default", loses=["batchnorm_forward",
                                                      "spatial_batchnorm_forward"],
         allowed=["batchnorm_backward", "spatial_batchnorm_backward"]),
    _bug("batchnorm.running_var_std", "rb_bn_running_std", "batchnorm_forward", _bn('''
    if mode == "train":
        mu, std = x.mean(axis=0), x.std(axis=0)
        inv_std = 1.0 / np.sqrt(std ** 2 + eps)
        x_hat = (x - mu) * inv_std
        out = gamma * x_hat + beta
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * std   # the std, not the variance
        cache = ("train", x_hat, gamma, inv_std)
''', '''
    else:
        inv_std = 1.0 / np.sqrt(running_var + eps)
        out = gamma * (x - running_mean) * inv_std + beta
        cache = ("test", (x - running_mean) * inv_std, gamma, inv_std)
'''), "the standard deviation kept in running_var",
         loses=["batchnorm_forward", "spatial_batchnorm_forward"]),
]

# The pooled size computed as H // pool_height in both passes: the backward, run on the
# standard cache of an input where the forward is wrong too, fails there: a bug of its own.
# (The forward is redefined after the backward here, so both passes carry the mistake.)
_POOL_SIZE_BY_WINDOW = '''
def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    dx = np.zeros(x.shape)
    for i in range(H // ph):
        for j in range(W // pw):
            window = x[:, :, i * s:i * s + ph, j * s:j * s + pw].reshape(N, C, -1)
            k = window.argmax(axis=2)
            for n in range(N):
                for c in range(C):
                    dx[n, c, i * s + k[n, c] // pw, j * s + k[n, c] % pw] += dout[n, c, i, j]
    return dx


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // s, 1 + (W - pw) // s))
    for i in range(H // ph):
        for j in range(W // pw):
            out[:, :, i, j] = x[:, :, i * s:i * s + ph, j * s:j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)
'''

# The spatial layer calls a batchnorm_forward whose test mode adds eps to the std: the
# spatial check names the helper (the batchnorm_forward is redefined after the original).
_SBN_OVER_A_WRONG_HELPER = _bn(_BN_TRAIN, '''
    else:
        x_hat = (x - running_mean) / (np.sqrt(running_var) + eps)   # eps outside the root
        out = gamma * x_hat + beta
        cache = ("test", x_hat, gamma, 1.0 / np.sqrt(running_var + eps))
''') + '''

def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    rows = np.moveaxis(x, 1, -1).reshape(N * H * W, C)
    out, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    return np.moveaxis(out.reshape(N, H, W, C), -1, 1), cache
'''

# The forward marks every window's maximum in one mask of x's shape and caches it; the
# backward reads that mask through each window and overwrites dx there.
_POOL_SHARED_MASK = '''
def max_pool_backward_naive(dout, cache):
    x, marks, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros(x.shape)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * s:i * s + ph, j * s:j * s + pw] = (
                marks[:, :, i * s:i * s + ph, j * s:j * s + pw] * dout[:, :, i:i + 1, j:j + 1])
    return dx


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    out, marks = np.zeros((N, C, Ho, Wo)), np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    patch = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    r, q = np.unravel_index(patch.argmax(), patch.shape)
                    out[n, c, i, j] = patch[r, q]
                    marks[n, c, i * s + r, j * s + q] = 1
    return out, (x, marks, pool_param)
'''

DEPENDENCY = [
    _bug("pool_backward.shared_mask", "rb_pool_back_shared_mask", "max_pool_backward_naive",
         _POOL_SHARED_MASK, "one mask of all windows' maxima, read through each window with =",
         hint="mask"),
    _bug("spatial_batchnorm.helper_wrong", "rb_sbn_over_a_wrong_batchnorm",
         "spatial_batchnorm_forward", _SBN_OVER_A_WRONG_HELPER,
         "a spatial layer right in itself over a batchnorm_forward wrong in test mode",
         loses=["spatial_batchnorm_forward", "batchnorm_forward"], hint="batchnorm_forward"),
    _bug("backward.own_bug", "rb_pool_both_sized_by_window", "max_pool_backward_naive",
         _POOL_SIZE_BY_WINDOW, "both passes loop over H // pool_height windows",
         loses=["max_pool_backward_naive", "max_pool_forward_naive"]),
]

CORPUS = CONV + POOL + BN + SBN + GN + SOFTMAX + NUMPY1 + REAL + CONVNET + MORE + DEPENDENCY
BY_NAME = {b.name: b for b in CORPUS}
assert len(BY_NAME) == len(CORPUS), "duplicate bug names"
