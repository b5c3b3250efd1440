"""Checking a client's credentials (towards clients).

Methods: ``scram-sha-256`` (with scramp), ``md5``, ``trust``, and ``passthrough``
(handled in the session: the origin's own exchange is relayed). Passwords are
never logged. SCRAM verifiers are derived once per user and kept in memory.
"""

from __future__ import annotations

import hmac
import os

import scramp

from .errors import InvalidPassword
from .origin import md5_password

_SCRAM = scramp.ScramMechanism("SCRAM-SHA-256")
_auth_info_cache: dict[tuple[str, str], tuple] = {}


def scram_auth_info(user: str, password: str) -> tuple:
    key = (user, password)
    info = _auth_info_cache.get(key)
    if info is None:
        info = _SCRAM.make_auth_info(password, iteration_count=4096)
        _auth_info_cache[key] = info
    return info


class ScramServer:
    """One SCRAM-SHA-256 exchange: client-first -> server-first, client-final -> server-final."""

    def __init__(self, user: str, password: str | None) -> None:
        # An unknown user still runs the exchange (with a random verifier) so that
        # the client cannot tell unknown users from wrong passwords.
        info = scram_auth_info(user, password if password is not None else os.urandom(16).hex())
        self._server = _SCRAM.make_server(lambda _username: info)
        self._known = password is not None

    def first(self, client_first: bytes) -> bytes:
        try:
            text = client_first.decode()
            # libpq sends an empty SCRAM user name ("n,,n=,r=..."): the user is the one in
            # the startup packet, as in Postgres. scramp rejects empty attributes, so hand
            # it a placeholder and put the client's own bare message back for the proof.
            gs2_flag, _, rest = text.partition(",")
            authzid, _, bare = rest.partition(",")
            if bare.startswith("n=,"):
                self._server.set_client_first(f"{gs2_flag},{authzid},n=*,{bare[3:]}")
                self._server.client_first_bare = bare
            else:
                self._server.set_client_first(text)
        except (scramp.ScramException, UnicodeDecodeError) as e:
            raise InvalidPassword(f"malformed SCRAM message: {e}") from e
        return self._server.get_server_first().encode()

    def final(self, client_final: bytes, user: str) -> bytes:
        try:
            self._server.set_client_final(client_final.decode())
        except (scramp.ScramException, UnicodeDecodeError):
            raise InvalidPassword(f'password authentication failed for user "{user}"')
        if not self._known:
            raise InvalidPassword(f'password authentication failed for user "{user}"')
        return self._server.get_server_final().encode()


def check_md5(user: str, password: str | None, salt: bytes, response: str) -> None:
    if password is None or not hmac.compare_digest(md5_password(user, password, salt), response):
        raise InvalidPassword(f'password authentication failed for user "{user}"')
