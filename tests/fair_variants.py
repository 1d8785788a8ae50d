"""Submissions for the fairness tests (tests/test_fair_grades.py), written for this project.

Each variant is the solution with some functions of layers.py replaced (`mutants.apply_patch`):

- CONVENTIONS: correct code that takes a choice the notebook leaves open (a value at the ReLU
  kink, a split of the gradient over tied pool maxima, a float64 result for float32 inputs, a
  cache of its own, an in-place update of bn_param's arrays, results returned as views). Each
  must get every point.
- PARTNERS: one function of a forward/backward pair broken, the other correct. The correct one
  must keep every point, the broken one must lose points of its own.
- KEEPDIMS: batchnorm_forward storing its running averages with keepdims, shape (1, D): right
  values, wrong shape. Each case that reads them must earn exactly config.SHAPE_SLIP_CREDIT.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    name: str
    patch: str            # replacement functions for layers.py
    why: str
    broken: str = ""      # PARTNERS: the broken function (its checks must lose points)
    kept: str = ""        # PARTNERS: the correct partner (its checks keep every point)


# ----------------------------------------------------------------------------------------------
# Conventions the notebook leaves open
# ----------------------------------------------------------------------------------------------

POOL_BACKWARD_LOOP = '''
def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, _, _ = x.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    window = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    where = np.argwhere(window == window.max())   # row-major order
                    g = dout[n, c, i, j]
                    {route}
    return dx
'''


def _pool_backward(route):
    return POOL_BACKWARD_LOOP.replace("{route}", route)


CONVENTIONS = [
    Variant("relu_ge_zero", '''
def relu_backward(dout, cache):
    x = cache
    return dout * (x >= 0)          # the whole gradient at the kink
''', "ReLU backward with x >= 0 (dout at x == 0)"),
    Variant("relu_half_at_kink", '''
def relu_backward(dout, cache):
    x = cache
    return dout * np.where(x == 0, 0.5, x > 0)   # half of it at the kink
''', "ReLU backward with dout / 2 at x == 0"),
    Variant("pool_ties_last", _pool_backward(
        "r, q = where[-1]\n                    "
        "dx[n, c, i * s + r, j * s + q] += g"),
        "tied maxima: the gradient goes to the last one"),
    Variant("pool_ties_split", _pool_backward(
        "for r, q in where:\n                        "
        "dx[n, c, i * s + r, j * s + q] += g / len(where)"),
        "tied maxima: the gradient is split evenly (the reshape-based fast pool's way)"),
    Variant("pool_ties_every", '''
def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros(x.shape)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * s:i * s + ph, j * s:j * s + pw]
            mask = window == window.max(axis=(2, 3), keepdims=True)  # every tied maximum
            dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += mask * dout[:, :, i, j][:, :, None, None]
    return dx
''', "tied maxima: each one gets the whole gradient (the mask idiom)"),
    Variant("float64_results", '''
def conv_forward_naive(x, w, b, conv_param):
    x, w, b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            field = xp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", field, w) + b
    return out, (x, w, b, conv_param)


def max_pool_forward_naive(x, pool_param):
    x = np.asarray(x, dtype=np.float64)
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // s, 1 + (W - pw) // s))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * s:i * s + ph, j * s:j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    x = np.asarray(x, dtype=np.float64)
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    rows = x.reshape(N, G, -1)
    inv_std = 1.0 / np.sqrt(rows.var(axis=2, keepdims=True) + eps)
    x_hat = ((rows - rows.mean(axis=2, keepdims=True)) * inv_std).reshape(x.shape)
    out = np.asarray(gamma, np.float64) * x_hat + np.asarray(beta, np.float64)
    return out, (x_hat, gamma, inv_std, G)
''', "float64 results for float32 inputs (conv, pool, group norm)"),
    Variant("own_caches", '''
def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((N, Ho, Wo, C * HH * WW), dtype=xp.dtype)
    for i in range(Ho):
        for j in range(Wo):
            cols[:, i, j] = xp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW].reshape(N, -1)
    out = (cols @ w.reshape(F, -1).T + b).transpose(0, 3, 1, 2)
    return out, {"cols": cols, "w": w, "padded_shape": xp.shape, "stride": stride, "pad": pad}


def conv_backward_naive(dout, cache):
    cols, w, stride, pad = cache["cols"], cache["w"], cache["stride"], cache["pad"]
    N, C, Hp, Wp = cache["padded_shape"]
    F, _, HH, WW = w.shape
    d = dout.transpose(0, 2, 3, 1)                 # (N, Ho, Wo, F)
    dw = np.einsum("nijf,nijk->fk", d, cols).reshape(w.shape)
    dcols = d @ w.reshape(F, -1)                   # (N, Ho, Wo, C*HH*WW)
    dxp = np.zeros((N, C, Hp, Wp))
    for i in range(d.shape[1]):
        for j in range(d.shape[2]):
            dxp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += \\
                dcols[:, i, j].reshape(N, C, HH, WW)
    return dxp[:, :, pad:Hp - pad, pad:Wp - pad], dw, dout.sum(axis=(0, 2, 3))


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    out = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    first = np.empty((N, C, Ho, Wo), dtype=np.int64)
    for i in range(Ho):
        for j in range(Wo):
            window = x[:, :, i * s:i * s + ph, j * s:j * s + pw].reshape(N, C, -1)
            first[:, :, i, j] = window.argmax(axis=2)
            out[:, :, i, j] = window.max(axis=2)
    return out, (x.shape, first, ph, pw, s)


def max_pool_backward_naive(dout, cache):
    shape, first, ph, pw, s = cache
    dx = np.zeros(shape)
    n, c = np.indices(shape[:2])
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            k = first[:, :, i, j]
            np.add.at(dx, (n, c, i * s + k // pw, j * s + k % pw), dout[:, :, i, j])
    return dx
''', "caches of their own (im2col columns, argmax indices) instead of the inputs"),
    Variant("bn_in_place_and_views", '''
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    bn_param.setdefault("running_mean", np.zeros(D, dtype=x.dtype))
    bn_param.setdefault("running_var", np.zeros(D, dtype=x.dtype))
    rm, rv = bn_param["running_mean"], bn_param["running_var"]
    if mode == "train":
        mean, var = x.mean(axis=0), x.var(axis=0)
        rm *= momentum                        # the given arrays, updated in place
        rm += (1 - momentum) * mean
        rv *= momentum
        rv += (1 - momentum) * var
    elif mode == "test":
        mean, var = rm, rv
    else:
        raise ValueError(mode)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    return gamma * x_hat + beta, (mode, x_hat, gamma, inv_std)


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, cache = batchnorm_forward(x.transpose(0, 2, 3, 1).reshape(-1, C), gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache   # a non-contiguous view


def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, C), cache)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta
''', "running averages updated in place in the given arrays; results returned as views"),
]


# ----------------------------------------------------------------------------------------------
# Broken partners
# ----------------------------------------------------------------------------------------------

def _partners(forward, backward, forward_args):
    return [
        Variant(f"{forward}_raises", f'''
def {forward}({forward_args}):
    raise ValueError("I ran out of time on this one")
''', f"{forward} raises; {backward} is right", broken=forward, kept=backward),
        Variant(f"{backward}_zeros", f'''
def {backward}(dout, cache):
    return {"np.zeros(cache[0].shape)" if "pool" in backward else
            "np.zeros(cache[0].shape), np.zeros(cache[1].shape), np.zeros(cache[2].shape)"}
''', f"{backward} returns zeros; {forward} is right", broken=backward, kept=forward),
        Variant(f"{backward}_none", f'''
def {backward}(dout, cache):
    return {"None" if "pool" in backward else "None, None, None"}
''', f"{backward} returns None; {forward} is right", broken=backward, kept=forward),
        Variant(f"{backward}_raises", f'''
def {backward}(dout, cache):
    raise RuntimeError("not done yet")
''', f"{backward} raises; {forward} is right", broken=backward, kept=forward),
    ]


PARTNERS = (
    _partners("conv_forward_naive", "conv_backward_naive", "x, w, b, conv_param")
    + _partners("max_pool_forward_naive", "max_pool_backward_naive", "x, pool_param")
    + [
        Variant("conv_forward_no_bias", '''
def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            field = xp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            out[:, :, i, j] = np.tensordot(field, w, axes=([1, 2, 3], [1, 2, 3]))  # no + b
    return out, (x, w, b, conv_param)
''', "conv_forward_naive forgets the bias; conv_backward_naive is right",
            broken="conv_forward_naive", kept="conv_backward_naive"),
        Variant("pool_forward_minimum", '''
def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // s, 1 + (W - pw) // s))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * s:i * s + ph, j * s:j * s + pw].min(axis=(2, 3))
    return out, (x, pool_param)
''', "max_pool_forward_naive takes the minimum; max_pool_backward_naive is right",
            broken="max_pool_forward_naive", kept="max_pool_backward_naive"),
    ]
)


# ----------------------------------------------------------------------------------------------
# A shape slip
# ----------------------------------------------------------------------------------------------

KEEPDIMS = Variant("bn_running_keepdims", '''
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros((1, D), dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros((1, D), dtype=x.dtype))
    if mode == "train":
        mean = x.mean(axis=0, keepdims=True)      # (1, D): the docstring says (D,)
        var = x.var(axis=0, keepdims=True)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        mean, var = running_mean, running_var
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return gamma * x_hat + beta, (mode, x_hat, gamma, inv_std.reshape(-1))
''', "running averages stored with keepdims: shape (1, D) instead of (D,)")
