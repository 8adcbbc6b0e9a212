"""The process exit statuses every command shares, so scripts and orchestrators can rely on them.

0: done. 1: the platform or the machine refused (a token rejected, a port taken, the catalogue
unreadable). 2: the configuration or the command line is wrong.
"""

from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
