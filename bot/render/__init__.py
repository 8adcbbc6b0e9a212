"""Plain-text rendering, shared by ``ask`` and the console."""
