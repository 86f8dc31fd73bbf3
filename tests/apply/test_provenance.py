"""Where a stamped note says a change came from (``core.provenance``): the PR of a merge or
squash commit's subject and nothing else of the message, ``--pr`` as a number or a URL, links
only from strictly checked GitHub Actions variables."""

from __future__ import annotations

import pytest

from reconciler.core.provenance import ProvenanceError, pr_from_message, provenance_of

SHA = "0123456789abcdef0123456789abcdef01234567"
GITHUB = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/crm"}


@pytest.mark.parametrize(
    ("message", "number"),
    [
        ("Merge pull request #42 from acme/q3-pricing\n\nbody", 42),
        ("Raise Acme for Q3 (#17)\n\n* squashed commits", 17),
        ("Raise Acme (#17) and more", None),  # not a squash subject
        ("Rebased commit\n\nMerge pull request #9 from x/y", None),  # not the subject
        ("Merge branch 'main' into topic", None),
        ("", None),
        (None, None),
    ],
)
def test_the_pr_comes_only_from_the_subject_github_writes(
    message: str | None, number: int | None
) -> None:
    assert pr_from_message(message) == number


def test_links_from_the_actions_environment() -> None:
    found = provenance_of(
        f"git:{SHA}", {**GITHUB, "GITHUB_RUN_ID": "77"}, commit_message="Fix (#5)"
    )

    assert found.commit == SHA
    assert found.commit_url == f"https://github.com/acme/crm/commit/{SHA}"
    assert found.pr_url == "https://github.com/acme/crm/pull/5"
    assert found.run_url == "https://github.com/acme/crm/actions/runs/77"


@pytest.mark.parametrize(
    "environ",
    [
        {"GITHUB_SERVER_URL": "javascript:alert(1)", "GITHUB_REPOSITORY": "acme/crm"},
        {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/crm)[x](y"},
        {"GITHUB_SERVER_URL": "http://github.com", "GITHUB_REPOSITORY": "acme/crm"},
        {"GITHUB_REPOSITORY": "acme/crm"},
    ],
)
def test_no_link_from_a_bad_or_partial_environment(environ: dict[str, str]) -> None:
    found = provenance_of(f"git:{SHA}", environ, pr="12")

    assert (found.commit_url, found.pr_url, found.pr_number) == (None, None, 12)


def test_pr_flag_wins_over_the_message_and_takes_a_url() -> None:
    by_number = provenance_of(f"git:{SHA}", GITHUB, pr="#8", commit_message="Fix (#5)")
    by_url = provenance_of(f"git:{SHA}", {}, pr="https://ghe.example.com:8443/acme/crm/pull/9/")

    assert (by_number.pr_number, by_number.pr_url) == (8, "https://github.com/acme/crm/pull/8")
    assert (by_url.pr_number, by_url.pr_url) == (9, "https://ghe.example.com:8443/acme/crm/pull/9")


@pytest.mark.parametrize(
    "value",
    ["javascript:alert(1)", "https://github.com/acme/crm/issues/3", "12abc", "", "-1"],
)
def test_a_bad_pr_flag_is_refused(value: str) -> None:
    with pytest.raises(ProvenanceError):
        provenance_of(f"git:{SHA}", GITHUB, pr=value or " ")


def test_uncommitted_manifests_have_no_commit_nor_pr_from_a_message() -> None:
    found = provenance_of("sha256:" + "ab" * 32, GITHUB, commit_message="Fix (#5)")

    assert (found.commit, found.commit_url, found.pr_number) == (None, None, None)
