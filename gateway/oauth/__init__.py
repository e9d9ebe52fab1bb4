"""OAuth 2 for tightrope: the embedded authorization server and the resource server.

``OAuthService`` holds what one app needs (keys, scope catalogue, the authlib
server, the bearer-token verifier); ``oauth_routes()`` are its endpoints. The
gateway's ``authenticate(request)`` is :meth:`OAuthService.authenticate`.
"""

from gateway.oauth.routes import CustomerAuthenticator, OAuthService, oauth_routes
from gateway.oauth.tokens import InvalidToken

__all__ = ["CustomerAuthenticator", "InvalidToken", "OAuthService", "oauth_routes"]
