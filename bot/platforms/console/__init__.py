"""The console: a local prompt, no token needed."""
