"""The runtime: configuration, platform adapters, renderers and the command line."""
