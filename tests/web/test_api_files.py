"""``/api/status`` and ``/api/files``: totals, filters as ``skyhaul ls`` reads them, paging,
redaction, one file's attempts and headers, and the Retry / Ignore / Unignore actions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.fitsheaders import FitsHeaders, HduHeader
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import AttemptRecord, Completion, FileSpec

from .conftest import OpenApi

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SECRET_URL = (
    "https://alice:hunter2@archive.example/a.fits"
    "?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIAEXAMPLE"
)
SECRETS = ("hunter2", "deadbeef", "AKIAEXAMPLE", "tok3n")
HEADERS = FitsHeaders(
    (
        HduHeader(
            0,
            "PRIMARY",
            (("INSTRUME", "NIRCAM", ""), ("TARGNAME", "NGC 3132", "target")),
        ),
    )
)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def files(web_catalog: Catalog, tmp_path: object) -> dict[str, int]:
    """Four files by name: a DOWNLOADED (signed URL, headers, origin), b FAILED twice,
    c ABANDONED, d DISCOVERED."""
    specs = [
        FileSpec(
            SECRET_URL,
            "a.fits",
            size=100,
            source="sim",
            instrument="NIRCAM",
            obs_start=_at("2024-03-01T10:00"),
            obs_end=_at("2024-03-01T11:00"),
            origin=json.dumps({"obsid": "42", "dataURL": "https://mast.example/x?token=tok3n"}),
        ),
        FileSpec(
            "https://archive.example/b.fits",
            "b.fits",
            source="sim",
            instrument="MIRI",
            obs_start=_at("2024-03-02T05:00"),
        ),
        FileSpec(
            "https://archive.example/c.fits",
            "c.fits",
            source="other",
            instrument="NIRCAM",
            downlink_time=_at("2024-03-05T12:00"),
        ),
        FileSpec("https://archive.example/d.fits", "d.fits", source="other"),
    ]
    web_catalog.register(specs, str(tmp_path), now=NOW)
    ids = {r.path.removesuffix(".fits"): r.id for r in web_catalog.list_files()}
    web_catalog.claim_batch("w", 3, now=NOW, lease_seconds=30)
    web_catalog.complete_many([Completion(ids["a"], 100, "ab" * 32, headers=HEADERS)], "w", now=NOW)
    for name, permanent, error in (("b", False, ErrorClass.SERVER), ("c", True, ErrorClass.CLIENT)):
        web_catalog.fail(
            ids[name],
            "w",
            now=NOW,
            error_class=error.value,
            message=f"HTTP {'503' if name == 'b' else '404'}",
            next_attempt_at=None,
            permanent=permanent,
        )
    web_catalog.record_attempts(
        [
            AttemptRecord(ids["a"], NOW, NOW, "downloaded", 100, sources=((SECRET_URL, 100),)),
            AttemptRecord(ids["b"], NOW, NOW, "failed", 0, ErrorClass.SERVER, "HTTP 503"),
            AttemptRecord(ids["b"], NOW, NOW, "failed", 10, ErrorClass.SERVER, "HTTP 502"),
        ]
    )
    return ids


def _names(answer: httpx.Response, ids: dict[str, int]) -> list[str]:
    assert answer.status_code == 200, answer.text
    by_id = {v: k for k, v in ids.items()}
    return [by_id[f["id"]] for f in answer.json()["files"]]


def _state(catalog: Catalog, file_id: int) -> FileState:
    record = catalog.get(file_id)
    assert record is not None
    return record.state


async def test_status_counts_files_and_bytes_per_state(
    api: httpx.AsyncClient, files: dict[str, int]
) -> None:
    answer = await api.get("/api/status")
    assert answer.status_code == 200
    document = answer.json()
    assert list(document["states"]) == [state.value for state in FileState]
    assert document["states"]["DOWNLOADED"] == {"count": 1, "bytes": 100}
    assert document["states"]["FAILED"]["count"] == 1
    assert document["states"]["ABANDONED"]["count"] == 1
    assert document["states"]["DISCOVERED"]["count"] == 1
    assert document["total"]["count"] == 4


async def test_files_lists_every_file_with_urls_redacted(
    api: httpx.AsyncClient, files: dict[str, int]
) -> None:
    answer = await api.get("/api/files")
    assert _names(answer, files) == ["a", "b", "c", "d"]
    assert answer.json()["total"] == 4
    first = answer.json()["files"][0]
    assert "REDACTED" in first["url"]
    assert first["url"].startswith("https://alice:")
    assert first["instrument"] == "NIRCAM"
    assert not any(secret in answer.text for secret in SECRETS)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=failed", ["b"]),
        ("state=FAILED&state=abandoned", ["b", "c"]),
        ("instrument=nircam", ["a", "c"]),
        ("source=other", ["c", "d"]),
        ("obs_start=2024-03-02", ["b"]),
        ("obs_end=2024-03-01", ["a"]),  # a date alone as an end: that whole day
        ("obs_start=2024-03-01T10:30Z&obs_end=2024-03-01T10:45Z", ["a"]),
        ("downlink_start=2024-03-05&downlink_end=2024-03-05", ["c"]),
        ("downlink_end=2024-03-04", []),
        ("where=TARGNAME=NGC*", ["a"]),
        ("where=INSTRUME=NIRCAM&where=TARGNAME!=M31", ["a"]),
        ("target=ngc 3132", ["a"]),
        ("where=INSTRUME=MIRI", []),
        ("instrument=NIRCAM&state=ABANDONED", ["c"]),
    ],
)
async def test_files_filters_as_ls_does(
    api: httpx.AsyncClient, files: dict[str, int], query: str, expected: list[str]
) -> None:
    answer = await api.get(f"/api/files?{query}")
    assert _names(answer, files) == expected
    assert answer.json()["total"] == len(expected)


async def test_files_pages_and_orders(api: httpx.AsyncClient, files: dict[str, int]) -> None:
    first = await api.get("/api/files", params={"limit": 2})
    second = await api.get("/api/files", params={"limit": 2, "offset": 2})
    assert _names(first, files) == ["a", "b"]
    assert _names(second, files) == ["c", "d"]
    assert first.json()["total"] == second.json()["total"] == 4
    assert _names(await api.get("/api/files?order=-id"), files) == ["d", "c", "b", "a"]
    past = await api.get("/api/files", params={"offset": 10})
    assert _names(past, files) == []
    assert past.json()["total"] == 4


async def test_file_shows_attempts_and_headers_redacted(
    api: httpx.AsyncClient, files: dict[str, int]
) -> None:
    answer = await api.get(f"/api/files/{files['a']}")
    assert answer.status_code == 200
    document = answer.json()
    assert document["file"]["id"] == files["a"]
    assert "REDACTED" in document["file"]["url"]
    [attempt] = document["attempts"]
    assert attempt["outcome"] == "downloaded"
    assert "REDACTED" in attempt["sources"][0]["url"]
    assert document["headers"]["values"]["TARGNAME"] == "NGC 3132"
    assert document["headers"]["origin"]["obsid"] == "42"
    assert "REDACTED" in document["headers"]["origin"]["dataURL"]
    assert not any(secret in answer.text for secret in SECRETS)


async def test_file_shows_failed_attempts_with_error_class(
    api: httpx.AsyncClient, files: dict[str, int]
) -> None:
    document = (await api.get(f"/api/files/{files['b']}")).json()
    assert document["file"]["state"] == "FAILED"
    assert document["file"]["error_class"] == "server"
    assert [(a["error_class"], a["message"]) for a in document["attempts"]] == [
        ("server", "HTTP 503"),
        ("server", "HTTP 502"),
    ]
    assert document["headers"] is None


@pytest.mark.parametrize("file_id", ["999999", "0", "-3", str(2**64)])
async def test_unknown_file_is_404(
    api: httpx.AsyncClient, files: dict[str, int], file_id: str
) -> None:
    answer = await api.get(f"/api/files/{file_id}")
    assert answer.status_code == 404
    assert "no file" in answer.json()["error"]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("state=nope", "state"),
        ("obs_start=yesterday", "obs_start"),
        ("obs_end=2024-13-01", "obs_end"),
        ("obs_start=2024-03-02&obs_end=2024-03-01", "obs_end"),
        ("downlink_start=9999-12-31T24:00", "downlink_start"),
        ("where=NOPE~1", "where"),
        ("where=INSTRUME", "where"),
        ("order=password", "order"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("offset=-1", "offset"),
        ("limit=many", "limit"),
    ],
)
async def test_bad_filters_are_400_with_one_line(
    api: httpx.AsyncClient, files: dict[str, int], query: str, named: str
) -> None:
    answer = await api.get(f"/api/files?{query}")
    assert answer.status_code == 400
    message = answer.json()["error"]
    assert "\n" not in message
    assert named in message


async def test_file_id_not_a_number_is_400(api: httpx.AsyncClient) -> None:
    answer = await api.get("/api/files/abc")
    assert answer.status_code == 400
    assert "file_id" in answer.json()["error"]


async def test_retry_ignore_unignore_move_only_the_given_files(
    api: httpx.AsyncClient, web_catalog: Catalog, files: dict[str, int]
) -> None:
    retried = await api.post("/api/files/retry", json={"ids": [files["b"], files["c"], files["a"]]})
    assert retried.status_code == 200
    assert retried.json() == {"changed": 2}  # a is DOWNLOADED: retry leaves it alone
    assert _state(web_catalog, files["b"]) is FileState.DISCOVERED
    assert _state(web_catalog, files["c"]) is FileState.DISCOVERED
    assert _state(web_catalog, files["a"]) is FileState.DOWNLOADED

    ignored = await api.post("/api/files/ignore", json={"ids": [files["d"]]})
    assert ignored.json() == {"changed": 1}
    assert _state(web_catalog, files["d"]) is FileState.IGNORED
    assert _state(web_catalog, files["b"]) is FileState.DISCOVERED  # not named: untouched

    unignored = await api.post("/api/files/unignore", json={"ids": [files["d"], files["b"]]})
    assert unignored.json() == {"changed": 1}
    assert _state(web_catalog, files["d"]) is FileState.DISCOVERED


async def test_actions_need_the_csrf_header(
    api_no_csrf: httpx.AsyncClient, web_catalog: Catalog, files: dict[str, int]
) -> None:
    answer = await api_no_csrf.post("/api/files/retry", json={"ids": [files["b"]]})
    assert answer.status_code == 403
    assert "X-CSRF-Token" in answer.json()["error"]
    assert _state(web_catalog, files["b"]) is FileState.FAILED
    assert (await api_no_csrf.get("/api/files")).status_code == 200  # reading needs none


@pytest.mark.parametrize(
    "body",
    [
        {"ids": []},
        {"ids": [0]},
        {},
        {"ids": ["x"]},
        {"ids": [2**64]},
        {"ids": list(range(1, 1002))},
    ],
)
async def test_bad_action_bodies_are_400(
    api: httpx.AsyncClient, files: dict[str, int], body: object
) -> None:
    answer = await api.post("/api/files/ignore", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("bad request: ")


async def test_action_body_not_json_is_400(api: httpx.AsyncClient) -> None:
    answer = await api.post(
        "/api/files/ignore", content=b"ids=1", headers={"content-type": "text/plain"}
    )
    assert answer.status_code == 400


async def test_action_with_an_unknown_id_changes_nothing(
    api: httpx.AsyncClient, web_catalog: Catalog, files: dict[str, int]
) -> None:
    answer = await api.post("/api/files/retry", json={"ids": [files["b"], 999999]})
    assert answer.status_code == 400
    assert answer.json()["error"] == "ids: no file 999999 in the catalog"
    assert _state(web_catalog, files["b"]) is FileState.FAILED


async def test_with_a_token_files_need_it_and_bearers_need_no_csrf(
    open_api: OpenApi, web_catalog: Catalog, files: dict[str, int]
) -> None:
    async with open_api(token="s3cret-token") as anonymous:
        refused = await anonymous.get("/api/files")
        assert refused.status_code == 401
        assert "s3cret-token" not in refused.text
    async with open_api(token="s3cret-token", bearer=True, csrf=False) as script:
        assert (await script.get("/api/status")).json()["total"]["count"] == 4
        retried = await script.post("/api/files/retry", json={"ids": [files["b"]]})
        assert retried.json() == {"changed": 1}
    assert _state(web_catalog, files["b"]) is FileState.DISCOVERED
