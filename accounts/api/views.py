"""POST /auth/register, the token endpoints (simplejwt's, behind a per-IP burst limit), GET /auth/me,
GET/PATCH /me/settings, POST /auth/web-login-link and the personal access tokens (/me/tokens)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from accounts import login_links, selectors, services
from accounts.api.serializers import (
    AccessTokenInput,
    AccessTokenOutput,
    CreatedAccessTokenOutput,
    MeOutput,
    PreferencesInput,
    PreferencesOutput,
    RegisterInput,
    TokenObtainInput,
    UserOutput,
    WebLoginLinkOutput,
)
from accounts.authentication import (
    PersonalTokenAuthentication,
    SupabaseJWTAuthentication,
    UserJWTAuthentication,
    request_user,
)
from accounts.models import preferences_of
from accounts.permissions import NoAccessToken
from accounts.ratelimit import burst_limited_by_ip
from core.openapi import ErrorEnvelope, error_responses


class RegisterView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=RegisterInput,
        responses={201: UserOutput, **error_responses(429)},
        auth=[],
        summary="Create an account (free tier); then get a token from /auth/token/",
    )
    @burst_limited_by_ip("auth-register")
    def post(self, request: Request) -> Response:
        serializer = RegisterInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class MeView(APIView):
    @extend_schema(responses={200: MeOutput, **error_responses(429)}, summary="Who I am, my tier and today's usage")
    def get(self, request: Request) -> Response:
        return Response(MeOutput(selectors.user_profile(user=request_user(request))).data)


class PreferencesView(APIView):
    """GET and PATCH /me/settings: what the service may keep and use, enforced on every save and /context."""

    @extend_schema(responses={200: PreferencesOutput, **error_responses(429)}, summary="My capture settings")
    def get(self, request: Request) -> Response:
        return Response(PreferencesOutput(preferences_of(request_user(request))).data)

    @extend_schema(
        request=PreferencesInput,
        responses={200: PreferencesOutput, **error_responses(400, 429)},
        summary="Change some of my capture settings",
    )
    def patch(self, request: Request) -> Response:
        serializer = PreferencesInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        prefs = services.preferences_update(user=request_user(request), changes=dict(serializer.validated_data))
        return Response(PreferencesOutput(prefs).data)


class WebLoginLinkView(APIView):
    """A one-time link that signs the token's user in to the web page (/app/): the way in for an account made
    from a Supabase token, which has no password. The link is spent by its first use and expires. Not with a
    personal access token (403): such a token must not open the page where tokens are made."""

    permission_classes = [IsAuthenticated, NoAccessToken]

    @extend_schema(
        request=None,
        responses={
            200: WebLoginLinkOutput,
            403: OpenApiResponse(
                ErrorEnvelope, description="Staff accounts sign in with their password; not with an access token."
            ),
            **error_responses(429),
        },
        summary="A one-time sign-in link for the web page (/app/)",
    )
    def post(self, request: Request) -> Response:
        token = login_links.login_link_token(user=request_user(request))
        url = reverse("webapp:login-link", kwargs={"token": token})
        return Response(WebLoginLinkOutput({"url": url, "expires_in": settings.WEB_LOGIN_LINK_SECONDS}).data)


_NO_ACCESS_TOKEN = OpenApiResponse(ErrorEnvelope, description="Sent with a personal access token (not allowed here).")


class AccessTokensView(APIView):
    """GET and POST /me/tokens: the person's personal access tokens. With a JWT or the /app/ session (its CSRF
    token on POST), never with a personal access token."""

    authentication_classes = [
        PersonalTokenAuthentication,  # recognized, to be refused with a clear 403 rather than "invalid JWT"
        SupabaseJWTAuthentication,
        UserJWTAuthentication,
        SessionAuthentication,  # the /app/ session: DRF enforces Django's CSRF check on POST and DELETE
    ]
    permission_classes = [IsAuthenticated, NoAccessToken]

    @extend_schema(
        responses={200: AccessTokenOutput(many=True), 403: _NO_ACCESS_TOKEN, **error_responses(429)},
        summary="My personal access tokens (revoked ones too), newest first",
    )
    def get(self, request: Request) -> Response:
        tokens = selectors.access_token_list(user=request_user(request))
        return Response(AccessTokenOutput(tokens, many=True).data)

    @extend_schema(
        request=AccessTokenInput,
        responses={201: CreatedAccessTokenOutput, 403: _NO_ACCESS_TOKEN, **error_responses(404, 429)},
        summary="Make a personal access token (for an MCP client or a script); the answer shows it once",
    )
    def post(self, request: Request) -> Response:
        serializer = AccessTokenInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = services.access_token_create(user=request_user(request), **serializer.validated_data)
        body = {**AccessTokenOutput(created.token).data, "token": created.secret}
        return Response(CreatedAccessTokenOutput(body).data, status=status.HTTP_201_CREATED)


class AccessTokenView(APIView):
    """DELETE /me/tokens/{token_id}: revoke one of my tokens (refused from the next request on)."""

    authentication_classes = AccessTokensView.authentication_classes
    permission_classes = AccessTokensView.permission_classes

    @extend_schema(
        request=None,
        responses={200: AccessTokenOutput, 403: _NO_ACCESS_TOKEN, **error_responses(429)},
        summary="Revoke one of my personal access tokens",
    )
    def delete(self, request: Request, token_id: str) -> Response:
        token = services.access_token_revoke(user=request_user(request), token_id=int(token_id))
        return Response(AccessTokenOutput(token).data)


class TokenObtainPairView(jwt_views.TokenObtainPairView):
    """An access and a refresh token for a user name (or email address) and password, and ``otp`` when the
    account has two-factor sign-in (without it: 401 with ``"mfa_required": true``)."""

    serializer_class = TokenObtainInput

    @extend_schema(
        description=(
            "An account with two-factor sign-in also needs `otp`: the authenticator app's current code or one "
            'recovery code. Without it (or with a wrong one) the answer is 401 with `"mfa_required": true`.'
        )
    )
    @burst_limited_by_ip("auth-token")
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class TokenRefreshView(jwt_views.TokenRefreshView):
    _serializer_class = "accounts.api.serializers.TokenRefreshInput"

    @burst_limited_by_ip("auth-token-refresh")
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class TokenBlacklistView(jwt_views.TokenBlacklistView):
    """Logout: the refresh token can no longer be refreshed (access tokens stay valid until they expire)."""

    @burst_limited_by_ip("auth-token-blacklist")
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)
