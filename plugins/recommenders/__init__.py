"""The built-in recommendation strategies, one plugin module each, and the built-in blend.

Each module is registered through the ``tightrope`` entry-point group exactly
like a third party's (pyproject.toml), and imports only the plugin API,
``tightrope``. ``_items`` holds what the modules that derive item-to-item data
share.
"""
