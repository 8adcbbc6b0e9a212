"""Telegram: python-telegram-bot on the runtime's loop, by long polling or a webhook."""
