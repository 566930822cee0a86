"""GET /admin/dashboard: the admin statistics, for the admin key or a staff user's token."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import SupabaseJWTAuthentication, UserJWTAuthentication
from core.db_routing import replica_read
from core.openapi import error_responses
from dashboard import selectors
from dashboard.api.authentication import AdminKeyAuthentication, IsAdminKeyOrStaff
from dashboard.api.serializers import DashboardOutput


class AdminDashboardView(APIView):
    authentication_classes = [AdminKeyAuthentication, SupabaseJWTAuthentication, UserJWTAuthentication]
    permission_classes = [IsAdminKeyOrStaff]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "admin_key",
                OpenApiTypes.STR,
                description="The admin key as a query parameter. Prefer the X-Admin-Key header: URLs end up in logs.",
            )
        ],
        responses={200: DashboardOutput, **error_responses(403, 429)},
        summary="System statistics (staff)",
        description=(
            "The `system` block (`total_users`, `total_memories`, `health_score` 0-100) plus today's usage, "
            "users per tier, memories per provider, the search index's status and the health checks behind the "
            "score. Send `X-Admin-Key` (or `?admin_key=`), or a staff user's bearer token; any other token is 403. "
            "Too many wrong keys from one address: 429."
        ),
    )
    def get(self, request: Request) -> Response:
        # An admin key is no person (pk None): its reads follow only the replica's lag, never a write of its own.
        return Response(replica_read(request.user.pk, lambda: DashboardOutput(selectors.dashboard_stats()).data))
