"""For plugin authors: ``tightrope plugin new``'s templates and the pytest fixtures."""
