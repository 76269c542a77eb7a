"""Ways to look at a model: figures (``plots``) and "why this digit" (``explain``)."""
