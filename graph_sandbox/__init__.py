"""A faithful fake of the Facebook Graph API endpoints the sync uses (see README.md).

Standalone: imports nothing from ``pages`` or ``conversations``; no Django in the request path.
"""

from .control import SandboxControl
from .result import appsecret_proof
from .sandbox import Sandbox
from .server import SandboxServer

__all__ = ["Sandbox", "SandboxControl", "SandboxServer", "appsecret_proof"]
