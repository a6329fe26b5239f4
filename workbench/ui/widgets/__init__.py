"""Widgets of the compare screen, one per module."""
