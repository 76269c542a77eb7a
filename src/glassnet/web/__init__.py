"""``glassnet serve``: a page where a person draws a digit and watches the network read it.

Needs the optional ``web`` extra (Flask for the app, waitress to serve it):
``pip install 'glassnet[web]'``.  ``create_app(network, header)`` builds the WSGI app;
``Server`` binds and runs it.
"""

from .server import MAX_BODY, Server, activations, create_app, model_info, parse_pixels, parse_predict

__all__ = ["MAX_BODY", "Server", "activations", "create_app", "model_info", "parse_pixels", "parse_predict"]
