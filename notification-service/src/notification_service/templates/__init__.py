"""Message templates: kinds and their variables, validation, sandboxed rendering, the
versioned store and the built-in texts."""
