"""Platforms: one package per chat platform, listed in :mod:`bot.platforms.registry`."""
