"""glassnet: a neural network you can see through.

Nielsen's network -- sigmoid neurons, quadratic cost, backpropagation, mini-batch SGD --
computed a whole mini-batch at a time in NumPy (``glassnet.core``), with an optional
compiled engine (``glassnet.engines``) chosen once per run.
"""
from . import engines, io
from .core.functions import sigmoid, sigmoid_prime
from .core.gradcheck import gradient_check
from .core.network import Network
from .errors import GlassnetError, LabelError
from .labels import one_hot
from .book.trace import trace            # glassnet.book.trace(network, x, y, eta): one step of backprop as data
from .book import universality          # glassnet.universality: chapter 4's construction as a Network

from .version import __version__
__all__ = ["io", "engines", "Network", "sigmoid", "sigmoid_prime", "gradient_check", "one_hot", "LabelError",
           "GlassnetError", "trace", "__version__"]
