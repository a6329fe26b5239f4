"""Models: what a model is and how it is reached.

The config file and model specs, chat-template presets, GGUF discovery and headers, and the
backends behind one contract (``backends/``). The bottom layer: it imports no other part.
"""
