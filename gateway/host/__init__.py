"""The plugin host: the manager, the hook specifications, manifests, plugins' graphs, isolation."""
