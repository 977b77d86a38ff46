"""A faithful fake of the Facebook Graph API endpoints the sync uses (see README.md).

Standalone: imports nothing from ``pages`` or ``conversations``; no Django in the request path.
"""

from .control import SandboxControl
from .sandbox import Sandbox, appsecret_proof
from .server import SandboxServer

__all__ = ["Sandbox", "SandboxControl", "SandboxServer", "appsecret_proof"]
