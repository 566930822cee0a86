"""What redact takes out of a text and, as much, what it must leave: a redactor that eats git SHAs, UUIDs, order
numbers or the word "password" would corrupt what people stored."""

from __future__ import annotations

import dataclasses

import pytest

from core.redaction import Redacted, redact

# Fake credentials in their providers' real formats. The ones a provider scans for are split with "+" so that this
# file is not itself reported as leaking them (GitHub push protection, detect-secrets hooks).
OPENAI_PROJECT = "sk-" + "proj-u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzdocJ2isAj"
OPENAI_MARKED = "sk-" + "fKtHF4vUCsMehGAkWvj7T3BlbkFJFAc9QeWJKY40uvSwMFLZ"
OPENAI_SERVICE = "sk-" + "svcacct-IhKtJ0RlgLKOmxgJTeKdNnFRIBXuDL7DxtpYlSXp"
ANTHROPIC = (
    "sk-" + "ant-api03-6ilI8ihN5KXSc7Tvo_hBKqFYY_kv5ZJr3J1TWDtkwtDDb-xHKas1VOqg6YYZYn9ZhyiA4uoRgnatmUdjAWtGSU8po-799AA"
)
AWS_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's own documentation example
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # idem
GITHUB_CLASSIC = "ghp_" + "tfjgVvVqE1SkHbn88HxjSI6bWHtP3fS2qHx6"
GITHUB_FINE = "github_pat_" + "11ABCDEFG0kwXoIIXGvOoN_ZomHFwUbbYrEqmSM9wCZ7Uw9xfogoEmvnEN5N1aE6PwZPf1Qh6yYTWmE4lB"
MEMORY_LAYER = "mlk_" + "Xq3vN8RbT2kLmP9sWdY4zA7cE1fH6jG0uI5oK-_rBnM"
SLACK_BOT = "xoxb-" + "123456789012-1234567890123-YOvfZ8UzDzV8fUkkibjL5DZP"
SLACK_WEBHOOK = "https://hooks.slack.com/services/" + "T0123ABCD/B0456EFGH/jN0MEQ7wjJJibaZUPgHV7iB3"
STRIPE_LIVE = "sk_" + "live_51YOvfZ8UzDzV8fUkkibjL5DZPjN0MEQ7wjJJibaZUPgHV7iB3m03nbqnsGpWLuqIA1id6Vw5DQ"
STRIPE_RESTRICTED = "rk_" + "live_YOvfZ8UzDzV8fUkkibjL5DZP"
STRIPE_TEST = "sk_" + "test_4eC39HqLyjWDarjtT1zdp7dc"
GOOGLE = "AIza" + "Sy5di4PzJ59FHz5r1pY4OjE2jBMptUsGr7C"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
OPAQUE_TOKEN = "uCu3ZR1zTOlUcR64cXQLioDnkHIfxIq2HZt.PlJ"
RSA_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAhx2jIclHkCiHp6bR1IqfEouHgxzNNAL5wIScGebcy8F5n3/YNBDRz\n"
    "kWKFLf6xuI5aHUQPFeNBTxaQWk8JzFalHlsZfYcMMDktXP/tKsf2rcDkdfrUnW5gZSgqbjG3\n"
    "-----END RSA PRIVATE KEY-----"
)
PGP_KEY = (
    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n"
    "Version: GnuPG v2\n"
    "\n"
    "lQOYBF0abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345\n"
    "=ABCD\n"
    "-----END PGP PRIVATE KEY BLOCK-----"
)
ENCRYPTED_PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "Proc-Type: 4,ENCRYPTED\n"
    "DEK-Info: AES-128-CBC,3F17F5316E2BAC89\n"
    "\n"
    "MIIEowIBAAKCAQEAhx2jIclHkCiHp6bR1IqfEouHgxzNNAL5wIScGebcy8F5n3\n"
    "-----END RSA PRIVATE KEY-----"
)
PUTTY_KEY = (
    "PuTTY-User-Key-File-2: ssh-rsa\n"
    "Encryption: none\n"
    "Comment: rsa-key-20240101\n"
    "Public-Lines: 1\n"
    "AAAAB3NzaC1yc2EAAAABJQAAAQEAhx2jIclHkCiHp6bR1IqfEouHgxzNNAL5wIScGeb\n"
    "Private-Lines: 1\n"
    "AAABAQCqGKukO1De7zhZj6+H0qtjTkVxwTCpvKe4eCZ0FPqri0cb2JZfXJ/DgYSF6vUp\n"
    "Private-MAC: 9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"
)
OPENSSH_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\r\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\r\n"
    "-----END OPENSSH PRIVATE KEY-----"
)


def r(kind: str) -> str:
    return f"[REDACTED:{kind}]"


# --- one sample of every kind, inside a sentence ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        (f"my key is {OPENAI_PROJECT}, please rotate it", f"my key is {r('openai_key')}, please rotate it", None),
        (f"OPENAI_API_KEY={OPENAI_MARKED}\n", f"OPENAI_API_KEY={r('openai_key')}\n", None),
        (f'client = OpenAI(api_key="{OPENAI_SERVICE}")', f'client = OpenAI(api_key="{r("openai_key")}")', None),
        (f"Use {ANTHROPIC} for Claude.", f"Use {r('anthropic_key')} for Claude.", None),
        (f"the access key id is {AWS_ID}.", f"the access key id is {r('aws_access_key')}.", None),
        (
            f'aws_secret_access_key = "{AWS_SECRET}"',
            f'aws_secret_access_key = "{r("aws_secret_key")}"',
            None,
        ),
        (
            f"[default]\naws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n",
            f"[default]\naws_access_key_id = {r('aws_access_key')}\naws_secret_access_key = {r('aws_secret_key')}\n",
            ("aws_access_key", "aws_secret_key"),
        ),
        (f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET}", f"export AWS_SECRET_ACCESS_KEY={r('aws_secret_key')}", None),
        (
            f"git clone https://{GITHUB_CLASSIC}@github.com/o/r",
            f"git clone https://{r('github_token')}@github.com/o/r",
            None,
        ),
        (f"token: {GITHUB_FINE} (fine-grained)", f"token: {r('github_token')} (fine-grained)", None),
        (f"my MCP token is {MEMORY_LAYER}, keep it", f"my MCP token is {r('memory_layer_token')}, keep it", None),
        (f"SLACK_BOT_TOKEN={SLACK_BOT} in .env", f"SLACK_BOT_TOKEN={r('slack_token')} in .env", None),
        (f"post to {SLACK_WEBHOOK} on deploy", f"post to {r('slack_token')} on deploy", None),
        (f"stripe.api_key = '{STRIPE_LIVE}'", f"stripe.api_key = '{r('stripe_key')}'", None),
        (f"restricted key {STRIPE_RESTRICTED} only reads", f"restricted key {r('stripe_key')} only reads", None),
        (f"test mode: {STRIPE_TEST}", f"test mode: {r('stripe_key')}", None),
        (f"maps?key={GOOGLE}&q=Paris", f"maps?key={r('google_api_key')}&q=Paris", None),
        (f"my key:\n{RSA_KEY}\nwhy does ssh refuse it?", f"my key:\n{r('private_key')}\nwhy does ssh refuse it?", None),
        (f"id_ed25519:\r\n{OPENSSH_KEY}\r\nthanks", f"id_ed25519:\r\n{r('private_key')}\r\nthanks", None),
        (f"gpg export:\n{PGP_KEY}\nok", f"gpg export:\n{r('private_key')}\nok", None),
        (f"legacy:\n{ENCRYPTED_PEM}\n", f"legacy:\n{r('private_key')}\n", None),
        (f"my .ppk:\n{PUTTY_KEY}\nThanks", f"my .ppk:\n{r('private_key')}\nThanks", None),
        (f"the session cookie is {JWT}.", f"the session cookie is {r('jwt')}.", None),
        (
            f"curl -H 'Authorization: Bearer {OPAQUE_TOKEN}' https://api.example.com",
            f"curl -H 'Authorization: Bearer {r('bearer_token')}' https://api.example.com",
            None,
        ),
        ("pay with 4111 1111 1111 1111 please", f"pay with {r('card_number')} please", None),
        ("card 5500-0000-0000-0004 exp 12/27", f"card {r('card_number')} exp 12/27", None),
        ("amex 378282246310005 or 3782 822463 10005", f"amex {r('card_number')} or {r('card_number')}", None),
    ],
)
def test_it_redacts_every_kind_of_secret_inside_a_sentence(text, expected, kinds):
    kind = expected.split("[REDACTED:")[1].split("]")[0]

    result = redact(text)

    assert result.text == expected
    assert result.kinds == (kinds or (kind,) * expected.count("[REDACTED:"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password: hunter2", "password: [REDACTED]"),
        ("password=hunter2&user=bob", "password=[REDACTED]&user=bob"),
        ("DB_PASSWORD=Tr0ub4dor&3", "DB_PASSWORD=[REDACTED]"),
        ("pwd=s3cr3t!x", "pwd=[REDACTED]"),
        ("passwd: 'correct horse battery'", "passwd: '[REDACTED]'"),
        ('{"user": "bob", "password": "p@ss w0rd!"}', '{"user": "bob", "password": "[REDACTED]"}'),
        ("$db = ['passwd' => 'letmein'];", "$db = ['passwd' => '[REDACTED]'];"),
        ("mysql --password hunter2 -u root", "mysql --password [REDACTED] -u root"),
        ("My password is hunter2.", "My password is [REDACTED]."),
        ("Password: Summer2024!", "Password: [REDACTED]"),
        ("the wifi password was 'S3cret!' all along", "the wifi password was '[REDACTED]' all along"),
        ("psql postgres://admin:s3cr3t@db.internal:5432/app", "psql postgres://admin:[REDACTED]@db.internal:5432/app"),
    ],
)
def test_it_keeps_the_password_key_word_and_replaces_only_the_value(text, expected):
    result = redact(text)

    assert result.text == expected.replace("[REDACTED]", r("password"))
    assert result.kinds == ("password",)


def test_with_pii_it_also_redacts_emails_and_phone_numbers():
    text = (
        "Écris à zoë.dupont+ai@example.co.uk ou appelle le 06 12 34 56 78; "
        "US office (415) 555-2671 or 415-555-2671, London +44 20 7946 0958, Berlin +49 (0)30 1234567."
    )

    result = redact(text, pii=True)

    assert result.text == (
        f"Écris à {r('email')} ou appelle le {r('phone')}; "
        f"US office {r('phone')} or {r('phone')}, London {r('phone')}, Berlin {r('phone')}."
    )
    assert result.kinds == ("email", "phone", "phone", "phone", "phone", "phone")


def test_without_pii_emails_and_phone_numbers_stay():
    text = "Mail bob@example.com or call +1 415 555 2671 / (415) 555-2671 / 020 7946 0958."

    assert redact(text) == Redacted(text, ())


# --- near misses: all of these must come back unchanged ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "request 550e8400-e29b-41d4-a716-446655440000 failed",
        "fixed in commit 3f5e2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f, see the log",
        "aws_key_commit = '3f5e2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f'",
        "set the border to #ff8800 and the text to #fff",
        "Order #4417-2291-0032 shipped",
        "tracking 4111111111111112 (not a card: the Luhn check fails)",
        "ts 1710513000000, id 12345678901234567890",
        "on 2024-03-15 14:30:00, 15/03/2024, 15.03.2024 or 2024-03-15T14:30:00Z",
        "I clicked the password reset link twice",
        "the word password alone",
        "Forgot your password? My password is wrong, the password is stored hashed.",
        "password: str = Field(...)",
        "password = None",
        'password = os.environ["DB_PASSWORD"]',
        "PASSWORD=${DB_PASSWORD}",
        "I use sk-learn, sorry, scikit-learn, and sk-lm-toolkit-for-multilingual-corpora",
        "![chart](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==)",
        'import os\napi_key = os.environ["OPENAI_API_KEY"]\nclient = OpenAI(api_key=api_key)\n',
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0 has two segments only",
        "eyJnotreallyjson.eyJnotjsoneither.signaturepart is not a token",
        "send a Bearer token, e.g. Authorization: Bearer YOUR_ACCESS_TOKEN_HERE",
        "version 1.2.3 on 10.0.0.1:8080, pip install numpy==1.26.4",
        "AKIA is a prefix; AKIAIOSFODNN7EXAMPLEXYZ is too long to be an id",
        "tokens start with mlk_ and the page shows mlk_Xq3vN8… as their prefix",
        "-----BEGIN CERTIFICATE-----\n"
        "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n"
        "-----END CERTIFICATE-----\n",
    ],
)
@pytest.mark.parametrize("pii", [False, True])
def test_it_leaves_near_misses_unchanged(text, pii):
    assert redact(text, pii=pii) == Redacted(text, ())


# --- several, repeated, overlapping, unicode, empty ------------------------------------------------------------------


def test_it_redacts_several_secrets_in_text_order():
    text = f"OpenAI {OPENAI_PROJECT}; GitHub {GITHUB_CLASSIC}; password: hunter2; AWS {AWS_ID}."

    result = redact(text)

    assert result.text == (
        f"OpenAI {r('openai_key')}; GitHub {r('github_token')}; password: {r('password')}; AWS {r('aws_access_key')}."
    )
    assert result.kinds == ("openai_key", "github_token", "password", "aws_access_key")
    assert result.count == 4


def test_the_same_secret_twice_is_replaced_twice():
    result = redact(f"{GOOGLE} and again {GOOGLE}")

    assert result.text == f"{r('google_api_key')} and again {r('google_api_key')}"
    assert result.kinds == ("google_api_key", "google_api_key")


def test_overlapping_candidates_are_redacted_once_under_the_most_specific_kind():
    # A JWT after "Bearer" is both a bearer token and a JWT; an AWS id inside a private key is part of the key.
    text = f"Authorization: Bearer {JWT}\n-----BEGIN PRIVATE KEY-----\n{AWS_ID}MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"

    result = redact(text)

    assert result.text == f"Authorization: Bearer {r('jwt')}\n{r('private_key')}\n"
    assert result.kinds == ("jwt", "private_key")


def test_a_provider_key_sent_as_a_bearer_token_is_named_after_its_provider():
    result = redact(f"Authorization: Bearer {OPENAI_PROJECT}")

    assert result == Redacted(f"Authorization: Bearer {r('openai_key')}", ("openai_key",))


def test_a_private_key_cut_off_before_its_footer_is_redacted_to_the_end_of_its_body():
    text = f"{RSA_KEY.rsplit(chr(10), 1)[0]}\n\nit stops there, is that the problem?"

    result = redact(text)

    assert result.text == f"{r('private_key')}\n\nit stops there, is that the problem?"


def test_the_text_around_secrets_is_kept_byte_for_byte_unicode_included():
    before, between, after = "🔑 Schlüssel «", "» — 鍵は", "です\u200b\n\tnaïve café ✓ \U0001f600"

    result = redact(f"{before}{ANTHROPIC}{between}{GITHUB_CLASSIC}{after}")

    assert result.text == f"{before}{r('anthropic_key')}{between}{r('github_token')}{after}"
    assert result.kinds == ("anthropic_key", "github_token")


def test_an_empty_text_has_nothing_to_redact():
    result = redact("")

    assert result == Redacted("", ())
    assert result.count == 0


def test_the_result_is_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        redact("x").text = "y"  # type: ignore[misc]
