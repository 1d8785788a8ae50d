"""First-order update rules for training neural networks.

Every rule has the signature

    next_w, config = rule(w, dw, config=None)

where w is a parameter array, dw the gradient of the loss with respect to w and
config a dict of hyperparameters plus any state the rule keeps between steps
(velocities, moving averages). Missing hyperparameters get the defaults listed
in each rule's docstring; the Solver passes the returned config to the next call.
"""
import numpy as np

from . import parallel


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent.

    config: learning_rate (default 1e-2)
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)

    w -= config["learning_rate"] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    """Stochastic gradient descent with momentum.

    config: learning_rate (default 1e-2), momentum (default 0.9),
    velocity (state, same shape as w; starts at zero)
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config["velocity"] if "velocity" in config else np.zeros_like(w)

    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    """RMSProp: divide each step by a moving average of the squared gradients.

    config: learning_rate (default 1e-2), decay_rate (default 0.99),
    epsilon (default 1e-8), cache (state, moving average of dw**2; starts at zero)
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    if "cache" not in config:
        config["cache"] = np.zeros_like(w)

    decay = config["decay_rate"]
    cache = decay * config["cache"] + (1 - decay) * dw * dw
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    config["cache"] = cache
    return next_w, config


_CHUNK = 1 << 17  # elements per array updated at a time: fits the L2 cache, few Python calls


def adam(w, dw, config=None):
    """Adam: moving averages of the gradient and of its square, bias-corrected.

    config: learning_rate (default 1e-3), beta1 (default 0.9), beta2 (default
    0.999), epsilon (default 1e-8), and the state m, v (moving averages, start at
    zero) and t (number of steps taken, starts at 0; increased before use).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    for key in ("m", "v"):
        if key not in config:
            config[key] = np.zeros_like(w)
    config.setdefault("t", 0)

    beta1, beta2, t = config["beta1"], config["beta2"], config["t"] + 1
    # The textbook update is
    #   m = beta1 m + (1 - beta1) dw;   v = beta2 v + (1 - beta2) dw^2
    #   next_w = w - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
    # and the last line equals w - lr * c1 * m / (sqrt(v) + eps * c2) with these scalars:
    c2 = (1 - beta2**t) ** 0.5
    c1 = c2 / (1 - beta1**t)
    lr, eps = config["learning_rate"] * c1, config["epsilon"] * c2
    # This runs on every parameter after every minibatch, and the hidden layer's weights have
    # millions of entries; so the work is done in cache-sized chunks, split over the cores.
    dtype = np.result_type(w, dw, config["m"], config["v"])
    m, v, next_w = (np.empty(w.shape, dtype) for _ in range(3))
    arrays = [np.ravel(a) for a in (w, dw, config["m"], config["v"], m, v, next_w)]

    def update(i0, i1):
        for j0 in range(i0, i1, _CHUNK):
            w_, dw_, m_old, v_old, m_, v_, out = (a[j0:min(i1, j0 + _CHUNK)] for a in arrays)
            np.multiply(m_old, beta1, out=m_)
            m_ += (1 - beta1) * dw_
            np.square(dw_, out=v_)
            v_ *= 1 - beta2
            v_ += beta2 * v_old
            np.sqrt(v_, out=out)
            out += eps
            np.divide(m_, out, out=out)
            out *= lr
            np.subtract(w_, out, out=out)

    parallel.over_slices(update, w.size, min_size=_CHUNK)
    config.update(m=m, v=v, t=t)
    return next_w, config
