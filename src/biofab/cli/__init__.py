"""The ``biofab`` command line: thin wrappers over the Python API."""
