"""The core: the book's networks in NumPy, nothing else.

``network`` (chapters 1-3: fully connected layers, BP1-BP4), ``functions`` (activations
and costs beside their derivatives), ``gradcheck`` (the book's eq. 2.21), ``layers`` and
``layernet`` (chapter 6: convolution, pooling, dropout, each forward beside its backward),
``modern`` (padded and strided convolution, batch normalisation, average and global pooling),
``ensemble`` (several trained networks voting or averaging). This package
imports nothing of glassnet outside itself except ``errors`` and ``labels``.
"""

from .ensemble import Ensemble
from .functions import sigmoid, sigmoid_prime
from .gradcheck import gradient_check
from .layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer, layer_gradient_check
from .modern import AvgPoolLayer, BatchNormLayer, ConvLayer, GlobalAvgPoolLayer, MaxPoolLayer  # registers them
from .network import Network, as_arrays

__all__ = [
    "Network",
    "as_arrays",
    "sigmoid",
    "sigmoid_prime",
    "gradient_check",
    "LayerNetwork",
    "ConvPoolLayer",
    "FullyConnectedLayer",
    "SoftmaxLayer",
    "ConvLayer",
    "BatchNormLayer",
    "MaxPoolLayer",
    "AvgPoolLayer",
    "GlobalAvgPoolLayer",
    "layer_gradient_check",
    "Ensemble",
]
