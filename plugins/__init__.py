"""Built-in plugins of the harness. Each module is registered through the ``harness``
entry points in pyproject.toml, exactly like a third-party plugin; the core imports none
of them."""
