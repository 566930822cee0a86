"""POST /auth/register, the token endpoints (simplejwt's, behind a per-IP burst limit), GET /auth/me,
GET/PATCH /me/settings and POST /auth/web-login-link."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from accounts import login_links, selectors, services
from accounts.api.serializers import (
    MeOutput,
    PreferencesInput,
    PreferencesOutput,
    RegisterInput,
    UserOutput,
    WebLoginLinkOutput,
)
from accounts.models import preferences_of
from accounts.ratelimit import burst_check_user, burst_limited_by_ip
from core.exceptions import InvalidInput
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
        burst_check_user(request)
        return Response(MeOutput(selectors.user_profile(user=request.user)).data)  # type: ignore[arg-type]


class PreferencesView(APIView):
    """GET and PATCH /me/settings: what the service may keep and use, enforced on every save and /context."""

    @extend_schema(responses={200: PreferencesOutput, **error_responses(429)}, summary="My capture settings")
    def get(self, request: Request) -> Response:
        burst_check_user(request)
        return Response(PreferencesOutput(preferences_of(request.user)).data)  # type: ignore[arg-type]

    @extend_schema(
        request=PreferencesInput,
        responses={200: PreferencesOutput, **error_responses(400, 429)},
        summary="Change some of my capture settings",
    )
    def patch(self, request: Request) -> Response:
        burst_check_user(request)
        if not isinstance(request.data, dict):
            raise InvalidInput("Request body must be a JSON object")
        serializer = PreferencesInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        prefs = services.preferences_update(user=request.user, changes=dict(serializer.validated_data))  # type: ignore[arg-type]
        return Response(PreferencesOutput(prefs).data)


class WebLoginLinkView(APIView):
    """A one-time link that signs the token's user in to the web page (/app/): the way in for an account made
    from a Supabase token, which has no password. The link is spent by its first use and expires."""

    @extend_schema(
        request=None,
        responses={
            200: WebLoginLinkOutput,
            403: OpenApiResponse(ErrorEnvelope, description="Staff accounts sign in with their password."),
            **error_responses(429),
        },
        summary="A one-time sign-in link for the web page (/app/)",
    )
    def post(self, request: Request) -> Response:
        burst_check_user(request)
        token = login_links.login_link_token(user=request.user)  # type: ignore[arg-type]
        url = reverse("webapp:login-link", kwargs={"token": token})
        return Response(WebLoginLinkOutput({"url": url, "expires_in": settings.WEB_LOGIN_LINK_SECONDS}).data)


class TokenObtainPairView(jwt_views.TokenObtainPairView):
    @burst_limited_by_ip("auth-token")
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class TokenRefreshView(jwt_views.TokenRefreshView):
    @burst_limited_by_ip("auth-token-refresh")
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class TokenBlacklistView(jwt_views.TokenBlacklistView):
    """Logout: the refresh token can no longer be refreshed (access tokens stay valid until they expire)."""

    @burst_limited_by_ip("auth-token-blacklist")
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)
