"""glassnet: a neural network you can see through.

Nielsen's chapter 1-2 network -- sigmoid neurons, quadratic cost, backpropagation,
mini-batch SGD -- computed a whole mini-batch at a time in NumPy.
"""
from .functions import sigmoid, sigmoid_prime
from .gradcheck import gradient_check
from . import io
from .network import LabelError, Network, one_hot

__version__ = "0.1.0"
__all__ = ["io", "Network", "sigmoid", "sigmoid_prime", "gradient_check", "one_hot", "LabelError", "__version__"]
