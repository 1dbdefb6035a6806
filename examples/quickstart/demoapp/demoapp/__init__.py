"""demoapp: deploykit's quickstart web application (stdlib only)."""

__version__ = "1.0.0"
