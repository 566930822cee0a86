"""django-allauth's pages (sign up, sign in, email, passwords, two-factor), mounted at /app/ with the page's
headers. Their URL names are allauth's own, without a namespace (``account_login``, ``mfa_index``, ...)."""

from allauth import urls as allauth_urls

from webapp.http import personal_patterns

urlpatterns = personal_patterns(allauth_urls.urlpatterns)
