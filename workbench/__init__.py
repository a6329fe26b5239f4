"""workbench: compare LLMs side by side, from the keyboard."""

__version__ = "0.1.0"
