"""A customer's rights (export, erasure) and their privacy page, ``/privacy``."""
