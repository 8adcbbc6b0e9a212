"""Platform adapters: platform events in, :class:`handlers.Request`; replies out."""
