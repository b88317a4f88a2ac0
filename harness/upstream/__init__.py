"""The fake upstream: Meta's Graph API and an OpenAI-compatible LLM, on loopback, with an audit.

It checks every send against the token of the business that owns the phone id, injects latency
and faults on command, and counts what it delivered per inbound message, so the harness can prove
each acknowledged message was answered exactly once with the right token.
"""

from .app import completion_text, create_app
from .behaviour import DISTRIBUTIONS, ENDPOINTS, Behaviour, BehaviourControl, BehaviourError, Draw
from .ledger import COUNTERS, Ledger
from .process import UpstreamProcess
from .server import UpstreamConfig, serve
from .tokens import TokenDirectory, TokenDirectoryError, token_matches

__all__ = [
    "COUNTERS",
    "DISTRIBUTIONS",
    "ENDPOINTS",
    "Behaviour",
    "BehaviourControl",
    "BehaviourError",
    "Draw",
    "Ledger",
    "TokenDirectory",
    "TokenDirectoryError",
    "UpstreamConfig",
    "UpstreamProcess",
    "completion_text",
    "create_app",
    "serve",
    "token_matches",
]
