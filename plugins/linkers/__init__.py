"""The built-in identity linkers, one plugin module each.

Each is registered through the ``tightrope`` entry-point group exactly like a
third party's (pyproject.toml) and imports only what ``gateway`` and ``graph``
export. They propose; the host decides (gateway/linking/rules.py).
"""
