"""Discord: slash commands, autocomplete and a message command, over the gateway or HTTP."""
