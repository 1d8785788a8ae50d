"""First-order update rules for training neural networks.

Every rule has the signature

    next_w, config = rule(w, dw, config=None)

where w is a parameter array, dw the gradient of the loss with respect to w and
config a dict of hyperparameters plus any state the rule keeps between steps
(velocities, moving averages). Missing hyperparameters get the defaults listed
in each rule's docstring; the Solver passes the returned config to the next call.
"""
import numpy as np


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
    v = config.get("velocity", np.zeros_like(w))

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
    config.setdefault("cache", np.zeros_like(w))

    decay = config["decay_rate"]
    cache = decay * config["cache"] + (1 - decay) * dw * dw
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    config["cache"] = cache
    return next_w, config


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
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)

    beta1, beta2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    m = beta1 * config["m"] + (1 - beta1) * dw
    v = beta2 * config["v"] + (1 - beta2) * dw * dw
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    config.update(m=m, v=v, t=t)
    return next_w, config
