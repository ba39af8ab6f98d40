"""The optimisers a network can have (`optimizer.name`, registered in
paddle_gan.registry.OPTIMIZERS): Adam, RMSProp (WGAN's classic) and SGD, each built from its
`OptimizerSettings` for one network's parameters. Paddle's defaults are not the ones people
quote (RMSProp's rho is 0.95 in Paddle, 0.9 in TensorFlow and Keras), so every value comes from
the settings."""
from __future__ import annotations

import paddle


def adam(settings, parameters):
    return paddle.optimizer.Adam(learning_rate=settings.learning_rate, beta1=settings.beta1,
                                 beta2=settings.beta2, epsilon=settings.epsilon,
                                 parameters=parameters)


def rmsprop(settings, parameters):
    return paddle.optimizer.RMSProp(learning_rate=settings.learning_rate, rho=settings.rho,
                                    epsilon=settings.epsilon, momentum=settings.momentum,
                                    parameters=parameters)


def sgd(settings, parameters):
    if settings.momentum:
        return paddle.optimizer.Momentum(learning_rate=settings.learning_rate,
                                         momentum=settings.momentum, parameters=parameters)
    return paddle.optimizer.SGD(learning_rate=settings.learning_rate, parameters=parameters)
