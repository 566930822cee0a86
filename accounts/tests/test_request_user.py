from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.authentication import request_user


def _request_as(user) -> Request:
    request = Request(APIRequestFactory().get("/"))
    request.user = user
    return request


def test_it_gives_the_account_behind_an_authenticated_request(alice):
    assert request_user(_request_as(alice)) == alice


@pytest.mark.parametrize("user", [None, AnonymousUser()])
def test_it_refuses_a_request_without_an_account_with_401(user):
    with pytest.raises(NotAuthenticated):
        request_user(_request_as(user))
