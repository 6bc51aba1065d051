"""Techne Assets: recorded pt-BR technical calls turned into training and troubleshooting documents."""

__version__ = "0.1.0"
