"""The optimisers a network can have (`optimizer.name`, registered in
paddle_gan.registry.OPTIMIZERS): Adam, RMSProp (WGAN's classic) and SGD, each built from its
`OptimizerSettings` for one network's parameters. Paddle's defaults are not the ones people
quote (RMSProp's rho is 0.95 in Paddle, 0.9 in TensorFlow and Keras), so every value comes from
the settings. `learning_rate` is the rate a network's settings give at a point of the run.
"""
from __future__ import annotations

import math

import paddle


def adam(settings, parameters):
    # use_multi_tensor: one kernel updates every parameter (merged_adam). The same update as a
    # kernel per parameter: identical for each gradient size tried (1 to 1e-10), the last bit of
    # a weight aside (its own summation order)
    return paddle.optimizer.Adam(learning_rate=settings.learning_rate, beta1=settings.beta1,
                                 beta2=settings.beta2, epsilon=settings.epsilon,
                                 parameters=parameters, use_multi_tensor=True)


def rmsprop(settings, parameters):
    return paddle.optimizer.RMSProp(learning_rate=settings.learning_rate, rho=settings.rho,
                                    epsilon=settings.epsilon, momentum=settings.momentum,
                                    parameters=parameters)


def sgd(settings, parameters):
    if settings.momentum:
        return paddle.optimizer.Momentum(learning_rate=settings.learning_rate,
                                         momentum=settings.momentum, parameters=parameters)
    return paddle.optimizer.SGD(learning_rate=settings.learning_rate, parameters=parameters)


def learning_rate(settings, progress: float) -> float:
    """The rate at `progress` (the share of the run's iterations done, 0 to 1): the setting's
    until `decay_start`, then down to 0 at the end along `decay` (linear or a half cosine)."""
    if settings.decay == "none" or progress <= settings.decay_start:
        return settings.learning_rate
    t = min(1.0, (progress - settings.decay_start) / (1.0 - settings.decay_start))
    factor = 1.0 - t if settings.decay == "linear" else 0.5 * (1.0 + math.cos(math.pi * t))
    return settings.learning_rate * factor
