"""Renderers: a platform-neutral :class:`handlers.Reply` in, one platform's message out."""
