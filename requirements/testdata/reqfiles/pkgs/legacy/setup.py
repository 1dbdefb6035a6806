from setuptools import setup
setup(name="legacy", version="1.0")
