"""One module per API area; each class is a thin shell over rows of ``_endpoints.py``."""
