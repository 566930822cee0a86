"""Secrets (and, on request, contact details) removed from text before it is stored.

People paste keys, tokens and passwords into prompts without noticing; once stored, every search, export and
backup would carry them. ``redact`` replaces each one with ``[REDACTED:<kind>]`` and leaves every other character
byte-identical, so what is stored still reads as what was said.

Detection is by format, never by entropy: detect-secrets' entropy and keyword plugins would take git SHAs, UUIDs and
base64 images in ordinary prose for secrets. Where one of detect-secrets' regex plugins describes a format well, its
own ``denylist`` regex is used, held to token boundaries (the plugins scan lines of code and match anywhere); where a
plugin is missing, too loose or too strict, a small regex of our own says why next to it.

It runs on every save of texts of up to ~10,000 words, so the regexes are precompiled, each is skipped unless a cheap
substring test finds its marker, and the token patterns start with a literal (a leading look-behind would stop the
regex engine from skipping ahead to it; the boundary before a match is checked in Python instead, on the few matches
there are). No pattern can fail after a long scan from many starting points, so the time stays linear in the text,
also for hostile input such as "ghp_" repeated 15,000 times.

This module is a leaf: nothing from Django or the project's apps.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.stripe import StripeDetector

__all__ = ["Redacted", "redact"]


@dataclass(frozen=True)
class Redacted:
    """The redacted text, and what was taken out of it (so a caller can tell the user, or count it)."""

    text: str
    kinds: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.kinds)


@dataclass(frozen=True)
class _Detector:
    """One way of finding one kind of secret.

    ``markers``: substrings of which one must be in the text (the lower-cased text when ``lowered``) before the regex
    runs at all; most texts contain none, and ``in`` is far cheaper than a regex scan. Empty means "always run".
    ``not_after``: characters that must not come just before the match (a key is never the tail of a longer word).
    ``groups``: the part of the match that is replaced (a password's value, not its key word), the first of them that
    took part in the match. A group in ``strip`` gives its trailing punctuation back to the sentence ("... is
    hunter2."). ``valid`` rejects what a regex cannot judge (a Luhn check, a JWT's JSON header).
    """

    kind: str
    pattern: re.Pattern[str]
    markers: tuple[str, ...] = ()
    lowered: bool = False
    not_after: str = ""
    groups: tuple[int | str, ...] = (0,)
    strip: tuple[int | str, ...] = ()
    valid: Callable[[str], bool] | None = None


# Keys are whole tokens of these characters. An open-ended run in a token pattern takes the rest of the token
# (``_TOKEN_REST``), after which the end boundary always holds, so a match cannot fail once a long token has been
# scanned: such failures, repeated from each "ghp_" in "ghp_ghp_ghp_...", are what would make the time quadratic.
_TOKEN_CHARS = string.ascii_letters + string.digits + "_-"
_TOKEN_REST = r"[A-Za-z0-9_-]*"
_TOKEN_END = r"(?![A-Za-z0-9_-])"


def _plugin(pattern: re.Pattern[str], *, rest: bool = True, guard: bool = False) -> re.Pattern[str]:
    """A detect-secrets denylist regex that matches whole tokens only.

    The plugins stop after a fixed length; if a provider makes its keys longer, ``rest`` takes the rest of the token
    rather than leaving its end in the stored text. The start is held by the detector's ``not_after``, or, with
    ``guard``, by a look-behind in the regex itself, for a plugin pattern that would otherwise rescan a long token from
    each of its characters. It goes after the first character, where it leaves the engine its fast literal search.
    """
    source = pattern.pattern
    if guard:
        assert source[0].isalnum(), source
        source = f"{source[0]}(?<![A-Za-z0-9_-]{source[0]}){source[1:]}"
    return re.compile(f"(?:{source}){_TOKEN_REST if rest else ''}{_TOKEN_END}", pattern.flags)


# --- checks a regex cannot make --------------------------------------------------------------------------------------


def _luhn(candidate: str) -> bool:
    """The checksum every payment card number passes: a random 16-digit number fails it nine times in ten."""
    total = 0
    for i, char in enumerate(reversed([c for c in candidate if c.isdigit()])):
        digit = int(char) * (2 if i % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def _letters_and_digits(token: str) -> bool:
    """Random tokens mix both; words, slugs and placeholders such as YOUR_ACCESS_TOKEN do not."""
    return any(c.isdigit() for c in token) and any(c.isalpha() for c in token)


def _openai_like(token: str) -> bool:
    """A real OpenAI key has a long random run; "sk-some-long-hyphenated-slug" does not."""
    return any(len(part) >= 20 and _letters_and_digits(part) for part in re.split(r"[-_]", token[3:]))


_HEX_40 = re.compile(r"[0-9a-fA-F]{40}")


def _aws_secret_like(token: str) -> bool:
    """AWS secret keys are mixed-case base64; a 40-hex git SHA next to the word "aws" is not one."""
    return not _HEX_40.fullmatch(token)


def _phone_like(number: str) -> bool:
    """E.164 numbers have at most 15 digits; fewer than 9 is a date, a time or a short id."""
    return 9 <= sum(c.isdigit() for c in number) <= 15


# Values after a password key word that are code, types, placeholders or prose, not passwords:
# ``password: str``, ``password = None``, ``"password": "${DB_PASSWORD}"``, "my password is wrong".
_NOT_A_PASSWORD_WORDS = frozenset(
    """
    str string bytes int text char varchar secretstr optional any none null nil true false undefined
    empty blank required missing hidden masked redacted
    a an the this that it its my your our their his her same different
    is was be been being not no yes too very so still also just now already only really quite
    in on at of for to from by with without into via as or and but if when
    wrong incorrect correct invalid valid expired weak strong long short case sensitive safe unsafe secure insecure
    """.split()  # noqa: SIM905 - a word list reads better as words than as 90 quoted strings
)
_NOT_A_PASSWORD = re.compile(
    r"""
    \*+ | x+ | \.+ | -+                                           # already masked
    | \$\{?\w+\}? | %\(?\w+\)?s? | \{\{.*\}\} | \{\w*\} | <[^>]*>  # variable, template or placeholder
    | [A-Za-z_][\w.]*\s*[(\[].*                                    # a call or subscript: os.environ["X"], getpass(
    | \w+(?:ed|ing|ly|able|ible)                                   # prose: stored, changing, probably, guessable
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Given back to the sentence after a bare value ("... is hunter2."); "!" and "?" are not, "Summer2024!" being typical.
_TRAILING_PUNCTUATION = ".,;:)]}>"


def _password_like(value: str) -> bool:
    return value.lower() not in _NOT_A_PASSWORD_WORDS and not _NOT_A_PASSWORD.fullmatch(value)


def _url_password_like(value: str) -> bool:
    """postgres://user:password@localhost in a README is a placeholder, not a leak."""
    return _password_like(value) and value.lower() not in {"password", "passwd", "pass", "pwd", "secret"}


# Own regex: detect-secrets' KeywordDetector also knows "password", but it is built for source files (it wants quotes
# or a known file type) and reports whole `secret = ...` lines. We want the value alone, in prose as in code:
#   password: hunter2 | password=hunter2 | DB_PASSWORD=x | pwd=x | "password": "x" | --password x | 'passwd' => 'x'
# A bare value ends at white space, a quote, "," or ";", or an "&" that starts the next query parameter.
_PASSWORD_VALUE = r"""
    (?: (?P<q>["'`])(?P<quoted>[^"'`\r\n]{1,200})(?P=q)
      | (?P<bare>(?:[^\s"'`,;&]|&(?![\w.-]+=)){1,200}) )
"""
_PASSWORD_ASSIGNMENT = re.compile(
    rf"""
    p(?:ass(?:word|wd|phrase)|wd)
    (?: ["']?\]?[ \t]*(?::=|=>|=|:)[ \t]*
      | (?:(?<=--password)|(?<=--passwd))[ \t]+ )
    {_PASSWORD_VALUE}
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Own regex, for prose: "my password is hunter2", "the wifi password was 'S3cret!'".
_PASSWORD_PROSE = re.compile(
    rf"""
    \b(?:my|the|our|your|his|her|their|new|old|current)[ \t]+(?:[\w-]+[ \t]+)?pass(?:word|wd|phrase)
    [ \t]+(?:is|was|will[ \t]+be)[ \t]*:?[ \t]*
    {_PASSWORD_VALUE}
    """,
    re.VERBOSE | re.IGNORECASE,
)
_PASSWORD_GROUPS = ("quoted", "bare")

# Own regex, for PrivateKeyDetector's headers (it finds only the header line, and misses PKCS#8 "BEGIN ENCRYPTED
# PRIVATE KEY"): the whole block, over many lines. Its body (base64, white space, "Proc-Type: ..." headers) is taken
# possessively, so a header without a footer costs one pass over its own body, never a search to the end of the text.
# A key pasted without its footer is taken up to the end of its base64 body.
_PEM_BEGIN = r"-{4,5}[ ]?BEGIN[A-Z0-9 ]{0,30}[ ]PRIVATE[ ]KEY(?:[ ]BLOCK)?[ ]?-{4,5}"
_PEM_END = r"-{4,5}[ ]?END[A-Z0-9 ]{0,30}[ ]PRIVATE[ ]KEY(?:[ ]BLOCK)?[ ]?-{4,5}"
_PEM_BLOCK = re.compile(
    rf"""
    {_PEM_BEGIN}
    (?: (?:\s++|[A-Za-z-]+:[^\r\n]*|[A-Za-z0-9+/=]++)*+ {_PEM_END}
      | (?:\r?\n[A-Za-z-]+:[^\r\n]*)* (?:\s{{1,4}}[A-Za-z0-9+/=]{{16,}})* )
    """,
    re.VERBOSE,
)
# Own regex, for PrivateKeyDetector's "PuTTY-User-Key-File-2": the .ppk file, "Key: value" and base64 lines, up to and
# including its Private-MAC line.
_PUTTY_KEY = re.compile(
    r"""
    PuTTY-User-Key-File-\d+:[^\r\n]*
    (?:\r?\n(?:(?!Private-MAC:)[A-Za-z-]+:[^\r\n]*|[A-Za-z0-9+/=]+(?![^\r\n])))*+
    (?:\r?\nPrivate-MAC:[^\r\n]*)?
    """,
    re.VERBOSE,
)


# --- the detectors, most specific first (on equal spans the earlier one names the kind) ------------------------------

_DETECTORS: tuple[_Detector, ...] = (
    _Detector("private_key", _PEM_BLOCK, markers=("PRIVATE KEY",)),
    _Detector("private_key", _PUTTY_KEY, markers=("PuTTY-User-Key-File-",)),
    # Own regex: detect-secrets 1.5.0 has no Anthropic plugin. sk-ant-api03-..., sk-ant-admin01-...
    _Detector(
        "anthropic_key",
        re.compile(rf"sk-ant-[A-Za-z0-9_-]{{20}}{_TOKEN_REST}{_TOKEN_END}"),
        markers=("sk-ant-",),
        not_after=_TOKEN_CHARS,
    ),
    # OpenAIDetector: keys carrying OpenAI's "T3BlbkFJ" marker, legacy and project-based.
    _Detector(
        "openai_key",
        _plugin(OpenAIDetector.denylist[0], guard=True),
        markers=("sk-",),
        not_after=_TOKEN_CHARS,
    ),
    # Own regex: OpenAIDetector is too strict: sk-proj-/sk-svcacct-/sk-admin- keys and legacy sk-<48> keys do not all
    # carry its marker. "sk-" + anything would be too loose ("sk-learn"), so _openai_like wants a long random run.
    _Detector(
        "openai_key",
        re.compile(rf"sk-(?!ant-)[A-Za-z0-9_-]{{20}}{_TOKEN_REST}{_TOKEN_END}"),
        markers=("sk-",),
        not_after=_TOKEN_CHARS,
        valid=_openai_like,
    ),
    # GitHubTokenDetector: ghp_/gho_/ghu_/ghs_/ghr_ + 36.
    _Detector(
        "github_token",
        _plugin(GitHubTokenDetector.denylist[0]),
        markers=("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        not_after=_TOKEN_CHARS,
    ),
    # Own regex: GitHubTokenDetector misses fine-grained tokens, github_pat_<22>_<59>.
    _Detector(
        "github_token",
        re.compile(rf"github_pat_[A-Za-z0-9_]{{40}}{_TOKEN_REST}{_TOKEN_END}"),
        markers=("github_pat_",),
        not_after=_TOKEN_CHARS,
    ),
    # Own regex: Memory Layer's own personal access tokens (accounts.models.ACCESS_TOKEN_PREFIX), mlk_ + 43 of
    # token_urlsafe(32): a person pasting theirs into a chat must not find it in their memories.
    _Detector(
        "memory_layer_token",
        re.compile(rf"mlk_[A-Za-z0-9_-]{{43}}{_TOKEN_REST}{_TOKEN_END}"),
        markers=("mlk_",),
        not_after=_TOKEN_CHARS,
    ),
    # SlackDetector: xoxb-/xoxp-/xoxa-/xoxr-/xoxs-/xoxo- tokens, and incoming-webhook URLs.
    _Detector(
        "slack_token",
        _plugin(SlackDetector.denylist[0]),
        markers=("xox",),
        lowered=True,
        not_after=_TOKEN_CHARS,
    ),
    _Detector("slack_token", SlackDetector.denylist[1], markers=("hooks.slack.com",), lowered=True),
    # StripeDetector: sk_live_/rk_live_; its fixed 24 characters are extended to the whole (now longer) key.
    _Detector(
        "stripe_key",
        _plugin(StripeDetector.denylist[0]),
        markers=("k_live_",),
        not_after=_TOKEN_CHARS,
    ),
    # Own regex: StripeDetector ignores test-mode keys, which are still credentials to an account.
    _Detector(
        "stripe_key",
        re.compile(rf"(?:sk|rk)_test_[0-9a-zA-Z]{{24}}{_TOKEN_REST}{_TOKEN_END}"),
        markers=("k_test_",),
        not_after=_TOKEN_CHARS,
    ),
    # Own regex: detect-secrets 1.5.0 has no Google plugin. AIza + 35.
    _Detector(
        "google_api_key",
        re.compile(rf"AIza[0-9A-Za-z_-]{{35}}{_TOKEN_END}"),
        markers=("AIza",),
        not_after=_TOKEN_CHARS,
    ),
    # AWSKeyDetector: access key ids (AKIA..., ASIA..., ABIA..., ACCA..., A3T...).
    _Detector(
        "aws_access_key",
        _plugin(AWSKeyDetector.denylist[0], rest=False),
        markers=("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
        not_after=_TOKEN_CHARS,
    ),
    # AWSKeyDetector: a quoted 40-character secret within 20 characters of "aws" and "key"/"pwd"/"pass"/"token".
    _Detector(
        "aws_secret_key",
        AWSKeyDetector.denylist[1],
        markers=("aws",),
        lowered=True,
        groups=(1,),
        valid=_aws_secret_like,
    ),
    # Own regex, the same rule unquoted: ~/.aws/credentials and `export AWS_SECRET_ACCESS_KEY=...` have no quotes.
    _Detector(
        "aws_secret_key",
        re.compile(
            r"aws.{0,20}?(?:key|pwd|pw|password|pass|token|secret)[^\s=:]{0,20}?[ \t]*[=:][ \t]*"
            r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
            re.IGNORECASE,
        ),
        markers=("aws",),
        lowered=True,
        groups=("secret",),
        valid=_aws_secret_like,
    ),
    # Own regex: JwtTokenDetector's pattern ends lazily (it stops before the signature) and accepts two segments;
    # this one wants all three, whose header and payload must decode to JSON (JwtTokenDetector.is_formally_valid).
    _Detector(
        "jwt",
        # (the look-behind after its "e": without it "eyJeyJeyJ..." would be rescanned from each "eyJ")
        re.compile(r"e(?<![\w.-]e)yJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}(?!\.?[\w-])"),
        markers=("eyJ",),
        valid=JwtTokenDetector.is_formally_valid,
    ),
    # BasicAuthDetector: the password in scheme://user:password@host, unless it is the documentation's placeholder.
    _Detector("password", BasicAuthDetector.denylist[0], markers=("://",), groups=(1,), valid=_url_password_like),
    _Detector(
        "password",
        _PASSWORD_ASSIGNMENT,
        markers=("pass", "pwd"),
        lowered=True,
        not_after=string.ascii_letters,  # DB_PASSWORD= and --password are keys; "compass:" is not
        groups=_PASSWORD_GROUPS,
        strip=("bare",),
        valid=_password_like,
    ),
    _Detector(
        "password",
        _PASSWORD_PROSE,
        markers=("password is", "password was", "password will", "passwd is", "passphrase is", "passphrase was"),
        lowered=True,
        groups=_PASSWORD_GROUPS,
        strip=("bare",),
        valid=_password_like,
    ),
    # Own regex: "Bearer <token>", as in an Authorization header; RFC 6750's token characters.
    _Detector(
        "bearer_token",
        re.compile(r"Bearer[ \t]+(?P<token>[A-Za-z0-9._~+/-]{16,}=*)(?![A-Za-z0-9._~+/=-])", re.IGNORECASE),
        markers=("bearer",),
        lowered=True,
        not_after=_TOKEN_CHARS,
        groups=("token",),
        strip=("token",),
        valid=_letters_and_digits,
    ),
    # Own regex: 13-19 digits starting like a card (2-6: Mastercard, Amex/Diners/JCB, Visa, Mastercard, Discover/
    # UnionPay), unbroken or in the groups cards are printed in (4-4-4-4[-3], 4-6-4/5), passing Luhn.
    _Detector(
        "card_number",
        re.compile(
            r"[2-6](?:\d{12,18}"
            r"|\d{3}(?P<s>[ -])\d{4}(?P=s)\d{4}(?P=s)\d{1,4}(?:(?P=s)\d{3})?"
            r"|\d{3}(?P<a>[ -])\d{6}(?P=a)\d{4,5})"
            r"(?![\w+]|[.,-]\d)"
        ),
        not_after=_TOKEN_CHARS + ".+",
        valid=_luhn,
    ),
)

# Own regex: the parts of RFC 5322 addresses people actually write. (The look-behind stays: it is what keeps a long
# run of word characters without an "@" from being rescanned from each of its characters.)
_EMAIL = _Detector(
    "email",
    re.compile(r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-]|\.\w)"),
    markers=("@",),
)
# Own regex: international numbers (+ or 00 and a country code, any grouping) and the national formats that cannot be
# taken for dates or ids: North American (415) 555-2671 / 415-555-2671, and trunk-prefix numbers such as 020 7946 0958
# or 06 12 34 56 78 (one consistent separator) or 0612345678. Each part is unambiguous, so nothing backtracks far.
_PHONE = _Detector(
    "phone",
    re.compile(
        r"""
        (?:
            (?:\+|00)[1-9]\d{0,2}(?:[ .-]?\(0\))?(?:[ .-]?\(\d{1,4}\))?[ .-]?\d+(?:[ .-]\d+){0,6}
          | \(\d{3}\)[ ]?\d{3}[-. ]\d{4}
          | [2-9]\d{2}(?P<n>[-. ])\d{3}(?P=n)\d{4}
          | 0[1-9](?:\d{7,11} | \d{0,4}(?P<t>[ .-])\d{2,8}(?:(?P=t)\d{2,8}){0,4})
        )
        (?![\w]|[.-]\d)
        """,
        re.VERBOSE,
    ),
    not_after=_TOKEN_CHARS + "+/.",
    valid=_phone_like,
)


def _candidates(text: str, detectors: tuple[_Detector, ...]) -> list[tuple[int, int, int, str]]:
    """Every candidate as (start, end, priority, kind); overlaps are settled by the caller."""
    lowered = text.lower()
    found: list[tuple[int, int, int, str]] = []
    for priority, detector in enumerate(detectors):
        haystack = lowered if detector.lowered else text
        if detector.markers and not any(marker in haystack for marker in detector.markers):
            continue
        for match in detector.pattern.finditer(text):
            if detector.not_after and match.start() and text[match.start() - 1] in detector.not_after:
                continue
            group = next(g for g in detector.groups if match.group(g) is not None)
            start, end = match.span(group)
            if group in detector.strip:
                end = start + len(text[start:end].rstrip(_TRAILING_PUNCTUATION))
            value = text[start:end]
            if value and (detector.valid is None or detector.valid(value)):
                found.append((start, end, priority, detector.kind))
    return found


def redact(text: str, *, pii: bool = False) -> Redacted:
    """``text`` with every secret replaced by ``[REDACTED:<kind>]``; with ``pii``, emails and phone numbers too.

    Where candidates overlap (a token that is both a JWT and a bearer token, an AWS id inside a private key) their
    characters are redacted once, under the kind of the longest candidate (the most specific one on a tie), and no
    part of any candidate survives.
    """
    if not text:
        return Redacted(text, ())
    candidates = _candidates(text, (*_DETECTORS, _EMAIL, _PHONE) if pii else _DETECTORS)
    if not candidates:
        return Redacted(text, ())
    candidates.sort()

    pieces: list[str] = []
    kinds: list[str] = []
    written = 0
    i = 0
    while i < len(candidates):
        start, end, priority, kind = candidates[i]
        best = (end - start, -priority, kind)
        i += 1
        while i < len(candidates) and candidates[i][0] < end:
            other_start, other_end, other_priority, other_kind = candidates[i]
            best = max(best, (other_end - other_start, -other_priority, other_kind))
            end = max(end, other_end)
            i += 1
        pieces += (text[written:start], f"[REDACTED:{best[2]}]")
        kinds.append(best[2])
        written = end
    pieces.append(text[written:])
    return Redacted("".join(pieces), tuple(kinds))
