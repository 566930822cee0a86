"""The person's own page, mounted at /app/ (session sign-in; not API traffic, not counted by the metrics)."""

from django.urls import path

from webapp import account_views, space_views, views
from webapp.http import personal

app_name = "webapp"

urlpatterns = [
    path("", personal(views.home), name="home"),
    # Signing up and in, out, passwords and two-factor: allauth's pages, also under /app/ (webapp.account_urls).
    path("login/link/<str:token>", personal(views.login_link), name="login-link"),
    path("account/", personal(views.account), name="account"),
    path("settings/", personal(views.capture_settings), name="settings"),
    path("tokens/", personal(views.access_tokens), name="tokens"),
    path("tokens/<int:token_id>/revoke", personal(views.access_token_revoke), name="token-revoke"),
    path("memories/<int:memory_id>/pin", personal(views.memory_pin), name="memory-pin"),
    path("memories/<int:memory_id>/priority", personal(views.memory_priority), name="memory-priority"),
    path("memories/<int:memory_id>/all-spaces", personal(views.memory_all_spaces), name="memory-all-spaces"),
    path("memories/<int:memory_id>/unlink", personal(views.memory_unlink), name="memory-unlink"),
    path("memories/<int:memory_id>/delete", personal(views.memory_delete), name="memory-delete"),
    path("memories/delete-all", personal(views.memory_delete_all), name="memory-delete-all"),
    path("memories/", personal(views.home), name="memories"),  # ?space=<id>: one space's memories
    path("memories/move", personal(space_views.memories_move), name="memories-move"),
    # Spaces: make, rename, make default, delete, merge (webapp/space_views.py).
    path("spaces/", personal(space_views.spaces), name="spaces"),
    path("spaces/new", personal(space_views.space_create), name="space-create"),
    path("spaces/<int:space_id>/rename", personal(space_views.space_rename), name="space-rename"),
    path("spaces/<int:space_id>/default", personal(space_views.space_make_default), name="space-default"),
    path("spaces/<int:space_id>/delete", personal(space_views.space_delete), name="space-delete"),
    path("spaces/<int:space_id>/merge", personal(space_views.space_merge), name="space-merge"),
    path("export", personal(views.memory_export), name="export"),
    path("import", personal(views.memory_import), name="import"),
    path("imports/<uuid:job_id>", personal(views.import_status), name="import-status"),
    # The account: where the person is signed in, and deleting it (webapp/account_views.py).
    path("account/sessions/", personal(account_views.sessions), name="account-sessions"),
    path(
        "account/sessions/web/<int:web_session_id>/revoke",
        personal(account_views.web_session_revoke),
        name="account-web-session-revoke",
    ),
    path(
        "account/sessions/extension/<int:token_id>/revoke",
        personal(account_views.extension_sign_in_revoke),
        name="account-extension-revoke",
    ),
    path(
        "account/sessions/tokens/<int:token_id>/revoke",
        personal(account_views.access_token_revoke),
        name="account-token-revoke",
    ),
    path(
        "account/sessions/apps/<int:connection_id>/revoke",
        personal(account_views.app_connection_revoke),
        name="account-app-revoke",
    ),
    path(
        "account/sessions/everywhere", personal(account_views.sign_out_everywhere), name="account-sign-out-everywhere"
    ),
    path("account/delete/", personal(account_views.account_delete), name="account-delete"),
]
