"""Adapters: the edges where Tugboat meets other systems."""
