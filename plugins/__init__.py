"""The built-in plugins: ordinary plugins registered through the `tightrope` entry points."""
