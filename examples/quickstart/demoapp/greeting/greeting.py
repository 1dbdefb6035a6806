"""greeting: a one-function dependency of demoapp, so the quickstart's
requirement list has something to resolve."""

__version__ = "1.0.0"


def hello(name):
    return "Hello from %s!" % name
