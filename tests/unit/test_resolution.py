"""Resolver cases as data (tests/unit/resolver_cases/*.json), plus option behaviour."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import itertools
import json
import operator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.version import Version

from pyemscripten import errors
from pyemscripten.index_client import DEFAULT_INDEX_URL, IndexClient, RetryPolicy
from pyemscripten.resolution import InstalledDist, ResolveOptions, resolve
from pyemscripten.target import Target

from .fake_index import BASE, FakeIndex, metadata_text, no_sleep

CASES = sorted((Path(__file__).parent / "resolver_cases").glob("*.json"))
TARGET = Target.for_platform("pyemscripten_2026_0_wasm32", "3.14.2")


def run(index: FakeIndex, request: list[str], **kwargs):
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    installed = kwargs.pop("installed", None)
    return asyncio.run(resolve(request, TARGET, client, installed, ResolveOptions(**kwargs)))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    case = json.loads(path.read_text())
    index = FakeIndex(case["index"])
    if "error" in case:
        with pytest.raises(getattr(errors, case["error"])) as info:
            run(index, case["request"], **case.get("options", {}))
        for text in case.get("message_contains", []):
            assert text in str(info.value), str(info.value)
        return
    result = run(index, case["request"], **case.get("options", {}))
    assert {d.name: str(d.version) for d in result.dists} == case["expected"]


def test_constraints_pre_and_no_deps() -> None:
    index = FakeIndex({"a": {"1.0": {"requires": ["b"]}, "2.0b1": {"requires": ["b"]}}, "b": {"1.0": {}, "2.0": {}}})
    got = run(index, ["a"], constraints=("b<2",))
    assert {d.name: str(d.version) for d in got.dists} == {"a": "1.0", "b": "1.0"}
    # A constraint's marker is evaluated for the runtime, as a requirement's is.
    got = run(index, ["a"], constraints=("b<2; sys_platform == 'win32'",))
    assert {d.name: str(d.version) for d in got.dists} == {"a": "1.0", "b": "2.0"}
    got = run(index, ["a"], constraints=("b<2; sys_platform == 'emscripten'",))
    assert {d.name: str(d.version) for d in got.dists} == {"a": "1.0", "b": "1.0"}
    got = run(index, ["a"], pre=True)
    assert {d.name: str(d.version) for d in got.dists} == {"a": "2.0b1", "b": "2.0"}
    got = run(index, ["a"], deps=False)
    assert [d.name for d in got.dists] == ["a"]


def test_a_yanked_file_does_not_yank_its_version() -> None:
    # PEP 592 yanks files: 2.0's binary wheel is yanked, its pure one is not, so 2.0 is
    # chosen, from the pure file, pinned or not. 3.0 has only a yanked file: skipped unless pinned.
    binary = "cp314-cp314-pyemscripten_2026_0_wasm32"
    index = FakeIndex({"a": {"3.0": {"yanked": "bad"},
                             "2.0": {"tags": [binary, "py3-none-any"], "yanked_tags": {binary: "bad build"}},
                             "1.0": {}}})
    for request in (["a"], ["a==2.0"]):
        (dist,) = run(index, request).dists
        assert (str(dist.version), dist.file.filename, dist.yanked) == ("2.0", "a-2.0-py3-none-any.whl", None)
    (dist,) = run(index, ["a==3.0"]).dists
    assert (str(dist.version), dist.yanked) == ("3.0", "bad")


def test_a_version_with_unreadable_metadata_is_passed_over_and_said() -> None:
    # pip passes over a version whose metadata is invalid; the resolution says which and why.
    index = FakeIndex({"a": {"2.0": {"requires": ["c >>> 1"]}, "1.0": {}}})
    got = run(index, ["a"])
    assert [(d.name, str(d.version)) for d in got.dists] == [("a", "1.0")]
    (note,) = got.passed_over
    assert note.startswith("Passed over a 2.0: Bad metadata in a-2.0-py3-none-any.whl") and "c >>> 1" in note
    with pytest.raises(errors.MetadataError, match="invalid Requires-Dist"):  # nothing else to take: its own error
        run(index, ["a==2.0"])


def serve_metadata(index: FakeIndex, project: str, filename: str, meta: bytes) -> None:
    """The index gives ``meta`` as the .metadata file of ``filename`` (the project's first
    file), its hash on the project's page as that body's."""
    url = f"{BASE.rsplit('/', 2)[0]}/files/{filename}"
    index.routes[url + ".metadata"] = replace(index.routes[url + ".metadata"], body=meta)
    page = json.loads(index.routes[BASE + f"{project}/"].body)
    page["files"][0]["core-metadata"] = {"sha256": hashlib.sha256(meta).hexdigest()}
    index.routes[BASE + f"{project}/"] = replace(index.routes[BASE + f"{project}/"], body=json.dumps(page).encode())


def test_a_version_whose_metadata_is_another_releases_is_passed_over() -> None:
    # a 2.0's .metadata file (its hash as the page gives it) is a 3.0's, or another project's:
    # its Requires-Dist are not a 2.0's, so a 2.0 is passed over (as pip does), and said.
    for name, version in (("a", "3.0"), ("zzz", "2.0")):
        index = FakeIndex({"a": {"2.0": {}, "1.0": {}}})
        serve_metadata(index, "a", "a-2.0-py3-none-any.whl", metadata_text(name, version, {"requires": ["ghost"]}))
        got = run(index, ["a"])
        assert [(d.name, str(d.version)) for d in got.dists] == [("a", "1.0")]
        said = (f"METADATA says Name '{name}', the file name says 'a'" if name != "a"
                else f"METADATA says Version '{version}', the file name says 2.0")
        assert got.passed_over == (f"Passed over a 2.0: Bad metadata in a-2.0-py3-none-any.whl (a): {said}. Pin "
                                   "another version of a, or report it to its maintainers.",)
        with pytest.raises(errors.MetadataError, match=said):
            run(index, ["a==2.0"])


def test_a_version_passed_over_for_another_releases_metadata_is_not_said_held_back_by_it() -> None:
    # a 2.0's .metadata is a 3.0's, which needs b>=5: a 2.0 is passed over for that, and said
    # so; "a 1.0 is chosen, not 2.0: 2.0 needs b>=5" would give 2.0 another release's needs.
    index = FakeIndex({"a": {"2.0": {}, "1.0": {}}, "b": {"1.0": {}}})
    serve_metadata(index, "a", "a-2.0-py3-none-any.whl", metadata_text("a", "3.0", {"requires": ["b>=5"]}))
    got = run(index, ["a", "b"])
    assert {d.name: str(d.version) for d in got.dists} == {"a": "1.0", "b": "1.0"}
    assert got.passed_over[0].startswith("Passed over a 2.0: Bad metadata") and got.held_back == ()


def test_a_version_needing_a_project_no_index_has_is_passed_over() -> None:
    # As pip: no page (404) means no candidates, so the resolver backtracks to app 1.0; the
    # project's own error stands when nothing else fits.
    index = FakeIndex({"app": {"2.0": {"requires": ["ghost"]}, "1.0": {}}})
    assert [(d.name, str(d.version)) for d in run(index, ["app"]).dists] == [("app", "1.0")]
    with pytest.raises(errors.ProjectNotFoundError, match="'ghost'"):
        run(index, ["app==2.0"])
    with pytest.raises(errors.ProjectNotFoundError, match="'ghost'"):
        run(index, ["ghost"])


def test_backtracking_asks_for_older_versions_metadata_a_few_at_once() -> None:
    # Ten versions need a project no index has: each older version's metadata would be a
    # round of its own; the crawl asks for the next few with each, so the rounds are fewer.
    index = FakeIndex({"app": {f"{v}.0": ({"requires": ["ghost"]} if v > 1 else {}) for v in range(1, 11)}})
    got = run(index, ["app"])
    assert [(d.name, str(d.version)) for d in got.dists] == [("app", "1.0")]
    assert got.rounds <= 4, got.rounds
    assert len([u for u in index.requests if u.endswith(".metadata")]) == 10  # each once


def test_passed_over_names_what_the_resolver_passed_over_once() -> None:
    # z 1.0's metadata does not read: the resolver passes over it, so a 2.0 (which needs z)
    # too, and says so once (the crawl read it as well: one note). a 3.0's does not read
    # either: said once, for a and a[x] alike.
    index = FakeIndex({"a": {"3.0": {"requires": ["q >>> 1"]}, "2.0": {"requires": ["z"]},
                             "1.0": {"extras": ["x"], "requires": ["b<2"]}},
                       "b": {"2.0": {}, "1.0": {}},
                       "z": {"1.0": {"requires": ["q >>> 1"]}}})
    got = run(index, ["a[x]", "a"])
    assert sorted((d.name, str(d.version)) for d in got.dists) == [("a", "1.0"), ("b", "1.0")]
    assert sorted(n.split(":")[0] for n in got.passed_over) == ["Passed over a 3.0", "Passed over z 1.0"]


def test_without_dependencies_metadata_is_not_needed() -> None:
    # deps=False reads metadata only for Requires-Python: a metadata file that fails, or one
    # that does not parse, does not stop the install.
    index = FakeIndex({"a": {"1.0": {"requires": ["c >>> 1"]}}, "b": {"1.0": {"metadata_file": True}}})
    index.fail("https://index.test/files/b-1.0-py3-none-any.whl.metadata", 500, 500, 500, 500)
    got = run(index, ["a", "b"], deps=False)
    assert sorted((d.name, str(d.version)) for d in got.dists) == [("a", "1.0"), ("b", "1.0")]


def test_an_installed_project_no_index_has_is_explained_as_a_conflict() -> None:
    index = FakeIndex({"app": {"1.0": {"requires": ["local>=2"]}}})
    installed = {"local": InstalledDist("local", Version("1.0"))}
    with pytest.raises(errors.ResolutionImpossibleError, match="1.0 is installed"):
        run(index, ["app"], installed=installed)


def test_installed_counts_and_reinstall() -> None:
    index = FakeIndex({"a": {"1.0": {}, "2.0": {}}})
    installed = {"a": InstalledDist("a", Version("1.0"))}
    got = run(index, ["a"], installed=installed)
    assert got.dists[0].installed and str(got.dists[0].version) == "1.0"
    assert got.to_install == []
    got = run(index, ["a>=2"], installed=installed)
    assert str(got.to_install[0].version) == "2.0"
    got = run(index, ["a"], installed=installed, reinstall=True)
    assert str(got.to_install[0].version) == "2.0"


def test_with_reinstall_an_installed_version_does_not_hide_what_the_index_did() -> None:
    # Without reinstall the installed version stands in for a project its index fails for;
    # with it, the installed version is no candidate, so the index's failure is the answer.
    installed = {"a": InstalledDist("a", Version("1.0"))}
    index = FakeIndex({"a": {"2.0": {}}})
    index.fail(BASE + "a/", "reset", "reset", "reset")
    assert run(index, ["a"], installed=installed).to_install == []
    index.fail(BASE + "a/", "reset", "reset", "reset")
    with pytest.raises(errors.NetworkError, match="a/"):
        run(index, ["a"], installed=installed, reinstall=True)
    with pytest.raises(errors.ProjectNotFoundError, match="'a'"):
        run(FakeIndex({}), ["a"], installed=installed, reinstall=True)
    other = FakeIndex({"a": {"2.0": {"tags": ["cp312-cp312-pyemscripten_2024_0_wasm32"]}}})
    with pytest.raises(errors.NoCompatibleWheelError):
        run(other, ["a"], installed=installed, reinstall=True)
    with pytest.raises(errors.ResolutionImpossibleError, match=r"versions available for this runtime: 2\.0; 1\.0 is "
                                                               r"installed \(and reinstalled, so it is no candidate\)"):
        run(FakeIndex({"a": {"2.0": {}}}), ["a<2"], installed=installed, reinstall=True)


def test_installed_dependencies_are_followed() -> None:
    index = FakeIndex({"b": {"1.0": {}}})
    installed = {"a": InstalledDist("a", Version("1.0"), (Requirement("b"),))}
    got = run(index, ["a"], installed=installed)
    assert {d.name for d in got.to_install} == {"b"}


def test_dependencies_before_dependents_and_plan() -> None:
    index = FakeIndex({"top": {"1.0": {"requires": ["mid"]}}, "mid": {"1.0": {"requires": ["leaf"]}}, "leaf": {"1.0": {}}})
    got = run(index, ["top"])
    assert [d.name for d in got.dists] == ["leaf", "mid", "top"]
    plan = got.plan()
    assert plan[2]["requested"] and plan[2]["filename"] == "top-1.0-py3-none-any.whl" and plan[2]["size"] > 0


def test_the_resolution_says_what_needs_each_project() -> None:
    index = FakeIndex({"top": {"1.0": {"requires": ["mid[x]", "leaf"]}},
                       "mid": {"2.0": {"requires": ["leaf", "extra-only; extra == 'x'"]}},
                       "leaf": {"1.0": {}}, "extra-only": {"1.0": {}}})
    got = run(index, ["top", "leaf"])
    # An extra's dependency is its project's; what only the user asks for has no entry.
    assert dict(got.needed_by) == {"mid": ("top 1.0",), "leaf": ("mid 2.0", "top 1.0"), "extra-only": ("mid 2.0",)}


def test_what_needs_a_project_without_wheels_counts_only_the_extras_asked() -> None:
    # helper needs native only with its extra "x": named as needing it where that extra is
    # asked (here by tool), not where nothing asks for it.
    dead = {"tag": "cp314-cp314-manylinux_2_28_x86_64"}
    index = FakeIndex({"app": {"1.0": {"requires": ["native", "helper", "other"]}},
                       "helper": {"1.0": {"extras": ["x"], "requires": ["native; extra == 'x'"]}},
                       "other": {"1.0": {"extras": ["y"], "requires": ["gone; extra == 'y'"]}},
                       "tool": {"1.0": {"requires": ["helper[x]"]}},
                       "native": {"1.0": dead}, "gone": {"1.0": dead}})
    with pytest.raises(errors.NoCompatibleWheelError) as info:
        run(index, ["app"], keep_going=True)
    assert info.value.project == "native" and info.value.needed_by == ["app"]
    with pytest.raises(errors.NoCompatibleWheelError) as info:
        run(index, ["app", "tool"], keep_going=True)
    assert info.value.needed_by == ["app", "helper"]
    with pytest.raises(errors.MultipleNoCompatibleWheelsError) as many:
        run(index, ["app", "other[y]"], keep_going=True)  # asked by the user
    assert {e.project: e.needed_by for e in many.value.errors} == {"native": ["app"], "gone": ["other"]}


def test_keep_going_reports_every_package() -> None:
    bad = {"1.0": {"tags": ["cp312-cp312-pyemscripten_2024_0_wasm32"]}}
    index = FakeIndex({"app": {"1.0": {"requires": ["x", "y"]}}, "x": bad, "y": bad})
    with pytest.raises(errors.MultipleNoCompatibleWheelsError) as info:
        run(index, ["app"], keep_going=True)
    assert [e.project for e in info.value.errors] == ["x", "y"]
    # Only a failed resolution reports them: here backtracking to app 1.0 avoids x and y.
    index = FakeIndex({"app": {"2.0": {"requires": ["x", "y"]}, "1.0": {}}, "x": bad, "y": bad})
    assert [(d.name, str(d.version)) for d in run(index, ["app"], keep_going=True).dists] == [("app", "1.0")]


def test_project_not_found_names_project_and_index() -> None:
    with pytest.raises(errors.ProjectNotFoundError) as info:
        run(FakeIndex({}), ["nothere"])
    assert "nothere" in str(info.value) and "index.test" in str(info.value)


def test_a_folder_of_wheels_given_as_an_index_is_said_to_be_one() -> None:
    from pyemscripten.seams import Response

    listing = (b'<html><body><h1>Directory listing for /wheels/</h1><ul>'
               b'<li><a href="greet_app-1.0.0-py3-none-any.whl">greet_app-1.0.0-py3-none-any.whl</a></li>'
               + b"<li><a href='padding.txt'>padding</a></li>" * 3000 + b"</ul></body></html>\n")
    index = FakeIndex({})
    index.routes[BASE] = Response(BASE, 200, listing, {"content-type": "text/html"})
    with pytest.raises(errors.ProjectNotFoundError) as info:
        run(index, ["greet-app"])
    assert info.value.wheel_folders == [BASE]
    assert str(info.value) == (
        f"No index has a project named 'greet-app' (asked for: {BASE}greet-app/). {BASE} lists wheel files: a "
        "folder of wheels, or one project's page, not a package index, which has a page for each project. If it "
        "is a project's page, give the index's own URL (the folder above: https://index.test/); else install the "
        "wheels by their URLs (each ending in #sha256=<hex digest>), or make the folder an index (the README's "
        "\"Your own wheels\" says how).")
    assert index.requests.count(BASE) == 1  # asked once, after resolution failed
    # Only the page's start is read (64 kB): a wheel linked after 150 kB is not seen, as on
    # a page that links none, and the message is the plain one.
    late = listing.replace(b"<ul><li>", b"<ul>" + b"<li><a href='padding.txt'>padding</a></li>" * 3000 + b"<li>", 1)
    index.routes[BASE] = Response(BASE, 200, late, {"content-type": "text/html"})
    with pytest.raises(errors.ProjectNotFoundError) as info:
        run(index, ["greet-app"])
    assert info.value.wheel_folders == [] and "Check the spelling" in str(info.value)


@pytest.mark.parametrize("link,folder", [
    # Spaces around the URL and newlines in it, which the URL parser drops (index_pages):
    # wheels the page is read as linking, which the hint missed.
    ('<a href=" demo-1.0-py3-none-any.whl ">x</a>', True),
    ('<a href="\n demo-1.0-py3-none-\nany.whl#sha256=ab">x</a>', True),
    ('<A HREF=demo-1.0-py3-none-any.whl>x</A>', True),
    ('<a href="demo-1.0-py3-none-any.whl">x</a><p>' + "\u00e9" * 40000, True),  # 64 kB end inside a character
    # No wheel as the page is read, which the hint took for one.
    ('<a href="demo-1.0-py3-none-any.whl notes.txt">x</a>', False),
    ('<!-- <a href="demo-1.0-py3-none-any.whl">x</a> -->', False),
    ('<link rel="prefetch" href="demo-1.0-py3-none-any.whl">', False),
])
def test_a_folder_of_wheels_is_told_by_its_links_as_the_page_is_read(link: str, folder: bool) -> None:
    from pyemscripten.seams import Response

    index = FakeIndex({})
    index.routes[BASE] = Response(BASE, 200, f"<html><body>{link}</body></html>".encode(), {"content-type": "text/html"})
    client = IndexClient(index, [BASE], RetryPolicy(attempts=1, backoff=0), sleep=no_sleep)
    assert asyncio.run(client.wheel_folders()) == ([BASE] if folder else [])


def test_an_index_url_with_its_scheme_in_capitals_is_the_same_url() -> None:
    """RFC 3986 3.1: HTTPS://pypi.org/simple/ is PyPI's index, whose own page (tens of MB)
    is not asked for when a project is found nowhere; written so, it was."""
    index = FakeIndex({}, base=DEFAULT_INDEX_URL)
    client = IndexClient(index, ["HTTPS://pypi.org/simple/"], RetryPolicy(attempts=1, backoff=0), sleep=no_sleep)
    assert client.index_urls == [DEFAULT_INDEX_URL]
    assert asyncio.run(client.wheel_folders()) == [] and index.requests == []


def test_server_error_names_url_and_status_after_retries() -> None:
    index = FakeIndex({"a": {"1.0": {}}})
    index.fail(BASE + "a/", 500, 500, 500)
    with pytest.raises(errors.IndexHTTPError) as info:
        run(index, ["a"])
    assert info.value.status == 500 and "a/" in str(info.value)
    assert index.requests.count(BASE + "a/") == 3


def test_transient_error_is_retried() -> None:
    index = FakeIndex({"a": {"1.0": {}}})
    index.fail(BASE + "a/", 503, "reset")
    assert [d.name for d in run(index, ["a"]).dists] == ["a"]


def test_metadata_file_used_instead_of_wheel() -> None:
    index = FakeIndex({"a": {"1.0": {"requires": ["b"]}}, "b": {"1.0": {"metadata_file": False}}})
    run(index, ["a"])
    assert any(u.endswith("a-1.0-py3-none-any.whl.metadata") for u in index.requests)
    assert not any(u.endswith("a-1.0-py3-none-any.whl") for u in index.requests)
    assert any(u.endswith("b-1.0-py3-none-any.whl") for u in index.requests)


def test_invalid_requirement() -> None:
    with pytest.raises(errors.InvalidRequirementError) as info:
        run(FakeIndex({}), ["a >>> 1"])
    assert "a >>> 1" in str(info.value) and "one requirement per item" not in str(info.value)
    # A wheel's file name, or a URL that is no wheel's: said what to do instead.
    for text, says in (("attrs-25.4.0-py3-none-any.whl", "a file name is not a requirement: give the wheel's URL"),
                       ("/wheels/attrs-25.4.0-py3-none-any.whl#sha256=00", "a path, or a URL relative to the page, "
                        "is not a requirement: give the wheel's absolute URL (https://host/.../file.whl)"),
                       ("https://example.test/attrs-25.4.0.tar.gz", "attrs-25.4.0.tar.gz is not a wheel's file name"),
                       ("ftp://example.test/attrs-25.4.0-py3-none-any.whl", "only http, https and file: URLs"),
                       ("cattrs @ https://example.test/attrs-25.4.0-py3-none-any.whl", "the name 'cattrs' is not the wheel's")):
        with pytest.raises(errors.InvalidRequirementError) as info:
            run(FakeIndex({}), [text])
        assert says in str(info.value), str(info.value)
    # A URL in published metadata is not followed: the project is looked for by name, and said.
    got = run(FakeIndex({"app": {"1.0": {"requires": ["lib @ https://u:p@example.test/lib-1.0-py3-none-any.whl"]}},
                         "lib": {"2.0": {}}}), ["app"])
    assert {d.name: str(d.version) for d in got.dists} == {"app": "1.0", "lib": "2.0"}
    assert got.left_out == ("app 1.0 names lib by a URL (https://***@example.test/lib-1.0-py3-none-any.whl), which "
                            "is not followed: it is looked for by name",)
    with pytest.raises(errors.InvalidRequirementError, match="a constraint cannot name a URL"):
        run(FakeIndex({}), ["attrs"], constraints=("attrs @ https://example.test/attrs-25.4.0-py3-none-any.whl",))
    # Several requirements typed as one string: said how to give them.
    for text in ("pydantic rich requests", "pydantic, rich>=2"):
        with pytest.raises(errors.InvalidRequirementError) as info:
            run(FakeIndex({}), [text])
        names = [n for n in text.replace(",", " ").split()]
        assert str(info.value).endswith(f"Give one requirement per item: [{', '.join(map(repr, names))}].")


def test_runtime_distribution_is_the_fallback() -> None:
    from pyemscripten.distribution import parse_distribution_lock

    lock = json.dumps({"info": {}, "packages": {
        "numpy": {"name": "numpy", "version": "2.4.6", "file_name": "numpy-2.4.6-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
                  "sha256": "AA", "depends": ["helper", "libopenblas"], "package_type": "package"},
        "helper": {"name": "helper", "version": "1.0", "file_name": "helper-1.0-py3-none-any.whl", "sha256": "bb",
                   "depends": []},
        "libopenblas": {"name": "libopenblas", "version": "0.3", "file_name": "libopenblas-0.3.zip", "sha256": "cc"},
        "broken": {"name": "broken", "version": "x y", "file_name": "broken-1.0-py3-none-any.whl", "sha256": "dd"},
        "user": {"name": "user", "version": "1.0", "file_name": "user-1.0-py3-none-any.whl", "sha256": "ee",
                 "depends": ["broken"]},
    }}).encode()
    entries = parse_distribution_lock(lock, "https://cdn.test/full/pyodide-lock.json")
    assert set(entries) == {"numpy", "helper", "user"}
    # The shared library's zip is no project an index has: numpy's need of it is the loader's.
    # A malformed wheel entry is left out, but what needs it still does (an index may have it).
    assert [r.name for r in entries["numpy"].metadata.requires_dist] == ["helper"]
    assert [r.name for r in entries["user"].metadata.requires_dist] == ["broken"]
    assert entries["numpy"].file.url == "https://cdn.test/full/numpy-2.4.6-cp314-cp314-pyemscripten_2026_0_wasm32.whl"

    async def load():
        return entries

    # numpy: not on the index at all; helper: on the index, which wins.
    index = FakeIndex({"helper": {"1.5": {}}, "app": {"1.0": {"requires": ["numpy"]}}})
    client = IndexClient(index, [BASE], RetryPolicy(attempts=1, backoff=0), sleep=no_sleep)
    got = asyncio.run(resolve(["app"], TARGET, client, {}, ResolveOptions(), distribution=load))
    assert {d.name: str(d.version) for d in got.dists} == {"app": "1.0", "numpy": "2.4.6", "helper": "1.5"}
    assert got.dists[[d.name for d in got.dists].index("numpy")].file.sha256 == "aa"


def test_files_for_other_platforms_are_skipped_and_compressed_tag_sets_read() -> None:
    from pyemscripten.candidates import Finder, KnownData
    from pyemscripten.index_pages import IndexFile, ProjectPage

    names = ["demo-1.0-cp314-cp314-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
             "demo-2.0-cp314-cp314-win_amd64.pyemscripten_2026_0_wasm32.whl",
             "demo-3.0-cp314-cp314-PYEMSCRIPTEN_2026_0_WASM32.whl",
             "demo-4.0-py3-none-any.whl", "not-a-wheel-name.whl"]
    files = tuple(IndexFile(n, f"https://files.test/{n}", ()) for n in names)
    target = Target.for_platform("pyemscripten_2026_0_wasm32", "3.14")
    finder = Finder(target, KnownData(pages={"demo": ProjectPage("demo", BASE, files)}), {}, ResolveOptions())
    assert [str(v) for v, _ in finder.versions("demo")] == ["4.0", "3.0", "2.0"]


def test_prefetched_page_is_fetched_once_and_taken_up() -> None:
    index = FakeIndex({"app": {"1.0": {}}})
    client = IndexClient(index, [BASE], RetryPolicy(attempts=1, backoff=0), sleep=no_sleep)

    async def scenario():
        client.prefetch_pages(["App", "app"])  # one fetch per canonical name
        await asyncio.sleep(0)
        assert index.requests == [f"{BASE}app/"]  # out before anyone asked
        page = await client.project_page("app")
        return page, await resolve(["app"], TARGET, client, None, ResolveOptions())

    page, result = asyncio.run(scenario())
    assert page.project == "app" and [d.name for d in result.dists] == ["app"]
    assert index.requests.count(f"{BASE}app/") == 2  # the second is the resolver's own, not prefetched


def test_prefetched_page_errors_surface_when_asked_and_unused_ones_are_dropped(caplog) -> None:
    index = FakeIndex({"app": {"1.0": {}}})
    client = IndexClient(index, [BASE], RetryPolicy(attempts=1, backoff=0), sleep=no_sleep)

    async def scenario():
        client.prefetch_pages(["ghost", "app", "other"])
        await asyncio.sleep(0)
        with pytest.raises(errors.ProjectNotFoundError):
            await client.project_page("ghost")
        await asyncio.sleep(0)  # "other" has failed by now, and nobody asked for it
        client.drop_prefetched()
        # Taken up only while prefetched: after the drop, a page is fetched afresh.
        await client.project_page("app")

    asyncio.run(scenario())
    gc.collect()  # an unretrieved task exception is logged when the task is collected
    assert index.requests.count(f"{BASE}app/") == 2
    assert "never retrieved" not in caplog.text


def _walk_index(dead: tuple[str, ...] = ("native",)) -> FakeIndex:
    """app 1 to 60; from 11 on it needs ``dead`` projects, which have no wheel for the runtime."""
    versions = {str(v): {"requires": list(dead) if v > 10 else []} for v in range(1, 61)}
    projects = {"app": versions, **{d: {"1.0": {"tag": "cp314-cp314-manylinux_2_28_x86_64"}} for d in dead}}
    return FakeIndex(projects)


def test_walking_back_around_a_project_without_wheels_finds_an_older_version() -> None:
    index = _walk_index()
    walks: list[str] = []
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    result = asyncio.run(resolve(["app"], TARGET, client, None, ResolveOptions(), on_walk=walks.append))
    assert {d.name: str(d.version) for d in result.dists} == {"app": "10"}
    assert walks == ["app"]  # told once, at its third older version


def test_walking_back_stops_after_max_walk_rounds_and_names_the_project_without_wheels() -> None:
    with pytest.raises(errors.NoCompatibleWheelError) as info:
        run(_walk_index(), ["app"], max_walk_rounds=3)
    text = str(info.value)
    assert info.value.project == "native" and "No wheel of 'native' fits this runtime" in text
    assert info.value.needed_by == ["app"] and "\n  It is needed by app.\n" in text
    assert "Resolution stopped after 4 passes through older versions of app (back to 44, 16 versions below its " \
           "newest), looking for versions that do not need it. If an older version would do, pin it" in text
    with pytest.raises(errors.MultipleNoCompatibleWheelsError) as many:
        run(_walk_index(("native-a", "native-b")), ["app"], max_walk_rounds=3)
    assert [e.project for e in many.value.errors] == ["native-a", "native-b"]
    assert str(many.value).splitlines()[1].startswith("  Resolution stopped after 4 passes through older versions of app")


def test_the_walk_bound_leaves_a_walk_over_a_version_conflict_alone() -> None:
    """Only steps back through projects whose versions lead to one without wheels count: app
    walks back 290 versions for b<2, while plain 2.0 needs native, which app never does."""
    versions = {str(v): {"requires": ["b>=2"] if v > 10 else []} for v in range(1, 301)}
    index = FakeIndex({"app": versions, "b": {"1.0": {}, "2.0": {}}, "plain": {"1.0": {}, "2.0": {"requires": ["native"]}},
                       "native": {"1.0": {"tag": "cp314-cp314-manylinux_2_28_x86_64"}}})
    result = run(index, ["app", "b<2", "plain"])
    assert {d.name: str(d.version) for d in result.dists} == {"app": "10", "b": "1.0", "plain": "1.0"}
    assert result.rounds > 40


def test_a_version_without_an_extra_asked_for_is_installed_without_it_and_said_so() -> None:
    index = FakeIndex({
        "app": {"1.0": {"requires": ["dep; extra == 'fast'"]}, "2.0": {"requires": ["native; extra == 'fast'"]}},
        "dep": {"1.0": {}},
        "native": {"1.0": {"tag": "cp314-cp314-manylinux_2_28_x86_64"}},
        "plain": {"1.0": {}},
    })
    result = run(index, ["app[fast]", "plain[nosuch,other]"])
    assert {d.name: str(d.version) for d in result.dists} == {"app": "1.0", "dep": "1.0", "plain": "1.0"}
    assert result.missing_extras == ("plain 1.0 does not provide the extras 'nosuch', 'other'; it is installed without them",)
    index = FakeIndex({"app": {"1.0": {"requires": ["dep; extra == 'fast'"]}, "2.0": {}}, "dep": {"1.0": {}}})
    result = run(index, ["app[fast]"])  # 2.0 dropped the extra: pip and uv take it too, and warn
    assert {d.name: str(d.version) for d in result.dists} == {"app": "2.0"}
    assert result.missing_extras == ("app 2.0 does not provide the extra 'fast'; it is installed without it",)


def _distribution(*names: str):
    """A runtime distribution loader offering ``names`` 2.0, for this runtime."""
    import json as json_

    from pyemscripten.distribution import parse_distribution_lock

    lock = {"packages": {n: {"name": n, "version": "2.0", "file_name": f"{n}-2.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
                             "sha256": "0" * 64, "depends": []} for n in names}}

    async def distribution():
        return parse_distribution_lock(json_.dumps(lock).encode(), "https://cdn.test/full/pyodide-lock.json")

    return distribution


def test_a_project_the_index_failed_for_comes_from_the_distribution_with_a_warning() -> None:
    distribution = _distribution("native", "gone")
    index = FakeIndex({"app": {"1.0": {"requires": ["native", "gone"]}}, "native": {"1.0": {}}})
    index.fail(BASE + "native/", 503, 503, 503)  # every try: the index failed; gone: 404, the index has none
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    result = asyncio.run(resolve(["app"], TARGET, client, None, ResolveOptions(), distribution=distribution))
    assert {d.name: str(d.version) for d in result.dists} == {"app": "1.0", "native": "2.0", "gone": "2.0"}
    (note,) = result.fallbacks
    assert note.startswith("native 2.0 comes from the runtime's distribution, because the index failed for it: HTTP 503")
    assert result.warnings == result.fallbacks


def test_a_conflict_on_a_project_the_index_failed_for_says_the_index_failed() -> None:
    # The index's page failed (CORS, in a page) and the runtime's 2.0 does not fit "native<2":
    # the conflict names the distribution's version and the index's failure, not "none".
    index = FakeIndex({"native": {"1.0": {}}})
    index.fail(BASE + "native/", 503, 503, 503)
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    with pytest.raises(errors.ResolutionImpossibleError) as info:
        asyncio.run(resolve(["native<2"], TARGET, client, None, ResolveOptions(), distribution=_distribution("native")))
    lines = str(info.value).splitlines()
    assert lines[1:4] == [
        "  you ask for native<2",
        "  native: versions available for this runtime: 2.0",
        "  native: the index failed for it, so the versions it has are not known: "
        + lines[3].split("not known: ", 1)[1]], lines
    assert "HTTP 503" in lines[3], lines


def _counting(loader):
    calls = []

    async def distribution():
        calls.append(1)
        return await loader()

    return distribution, calls


def test_the_runtimes_version_is_a_candidate_after_the_indexes_ones() -> None:
    """The runtime's distribution (2.0 of each project named) is loaded only when nothing the
    index gives fits a requirement any more; its version, where the index has no wheel of it,
    is then tried after the index's versions (micropip takes the runtime's package where the
    index has no match): pydantic==2.12.5 pins a pydantic-core only Pyodide 314 ships, and
    pyiceberg's browser-loadable versions on PyPI are old pure ones that need mmhash3."""
    linux = {"tag": "cp314-cp314-manylinux_2_28_x86_64"}
    index = FakeIndex({"core": {"3.0": {}}, "app": {"1.0": {}, "3.0": {"requires": ["native"]}},
                       "stuck": {"1.0": {"requires": ["native"]}, "1.5": {"requires": ["native"]}},
                       "native": {"1.0": linux}, "plain": {"1.0": {}},
                       "a": {"1.0": {"requires": ["b"]}, "2.0": {"requires": ["b<1"]}}, "b": {"0.5": {}, "1.0": {}},
                       "c": {"1.0": {"requires": ["b>=1"]}}})
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)

    def resolved(request):
        loader, calls = _counting(_distribution("core", "app", "stuck", "plain", "numpy"))
        result = asyncio.run(resolve(request, TARGET, client, None, ResolveOptions(), distribution=loader))
        return {d.name: str(d.version) for d in result.dists}, len(calls)

    assert resolved(["plain", "core"]) == ({"plain": "1.0", "core": "3.0"}, 0)  # the index suffices: never loaded
    assert resolved(["a", "c"]) == ({"a": "1.0", "b": "1.0", "c": "1.0"}, 0)  # a plain conflict: not loaded either
    assert resolved(["core==2.0"]) == ({"core": "2.0"}, 1)  # a pin only the runtime meets
    # Loaded for numpy (no index has it): plain and core are still the index's.
    assert resolved(["plain", "core", "numpy"]) == ({"plain": "1.0", "core": "3.0", "numpy": "2.0"}, 1)
    assert resolved(["app"])[0] == {"app": "1.0"}  # 3.0 needs native; the index's 1.0 before the runtime's 2.0
    assert resolved(["stuck"]) == ({"stuck": "2.0"}, 1)  # every index version needs native


def test_what_a_resolution_leaves_out_or_finds_nowhere_is_said() -> None:
    index = FakeIndex({"plain": {"1.0": {}}})
    result = run(index, ["plain", 'linuxonly; sys_platform == "linux"'])
    assert {d.name for d in result.dists} == {"plain"}
    assert result.left_out == ('linuxonly; sys_platform == "linux" is left out: its marker is false for this runtime '
                               "(Python 3.14.2, sys_platform emscripten)",)
    assert result.warnings[0] == result.left_out[0]
    # Every project the index was asked for answered 404 (a mistyped index URL looks so, and so
    # does an index of private projects asked only for the runtime's): said, as a question.
    client = IndexClient(FakeIndex({}), [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    result = asyncio.run(resolve(["gone"], TARGET, client, None, ResolveOptions(), distribution=_distribution("gone")))
    assert {d.name: str(d.version) for d in result.dists} == {"gone": "2.0"}
    assert result.left_out == (f"None of the projects asked for is on the index (gone, at {BASE}): if they should "
                               "be, check its URL (an index's root, such as https://pypi.org/simple/)",)


def test_a_constraint_with_extras_is_refused() -> None:
    with pytest.raises(errors.InvalidRequirementError) as info:
        run(FakeIndex({"plain": {"1.0": {}}}), ["plain"], constraints=("plain[fast]<2",))
    assert str(info.value) == ("Invalid requirement 'plain[fast]<2' (in constraint): a constraint cannot name extras "
                               "(pip refuses them too): constrain the project itself, as plain<2")


def test_a_project_first_named_by_metadata_fetched_ahead_is_looked_for_in_the_distribution() -> None:
    # app 3.0 and 2.0 need b>=2 (ruled out): the walk reaches app 1.0, whose metadata the crawl
    # fetched ahead; foo, which only 1.0 needs, is on the index for Linux only, and in the
    # runtime's distribution.
    index = FakeIndex({"app": {"3.0": {"requires": ["b>=2"]}, "2.0": {"requires": ["b>=2"]}, "1.0": {"requires": ["foo"]}},
                       "b": {"1.0": {}, "2.0": {}}, "foo": {"1.0": {"tag": "cp314-cp314-manylinux_2_28_x86_64"}}})
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    result = asyncio.run(resolve(["app", "b<2"], TARGET, client, None, ResolveOptions(), distribution=_distribution("foo")))
    assert {d.name: str(d.version) for d in result.dists} == {"app": "1.0", "b": "1.0", "foo": "2.0"}


def test_extras_named_in_markers_any_way_count_and_the_distribution_lists_none() -> None:
    index = FakeIndex({"app": {"1.0": {"requires": ["dep; extra == 'a' or extra == \"b\"", "dep; 'Reversed_Form' == extra",
                                                    "dep;extra=='tight'"]}},
                       "dep": {"1.0": {}}})
    assert run(index, ["app[a,b,reversed-form,tight]"]).missing_extras == ()
    index = FakeIndex({"app": {"1.0": {"requires": ["foo[fast]"]}},
                       "foo": {"1.0": {"tag": "cp314-cp314-manylinux_2_28_x86_64"}}})
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    result = asyncio.run(resolve(["app"], TARGET, client, None, ResolveOptions(), distribution=_distribution("foo")))
    assert result.missing_extras == ("foo 2.0 comes from the runtime's distribution, whose lock lists no extras: "
                                     "the extra 'fast' is not installed",)


def test_extras_of_the_distributions_wheel_come_from_an_index_wheel_of_the_same_version() -> None:
    # foo 2.0 is on the index for Linux only, with PEP 658 metadata that says what [fast]
    # needs; the runtime's lock lists foo 2.0's dependencies but no extras.
    linux = "cp314-cp314-manylinux_2_28_x86_64"
    index = FakeIndex({"app": {"1.0": {"requires": ["foo[fast]"]}},
                       "foo": {"2.0": {"tag": linux, "requires": ["bar; extra == 'fast'", "base-dep"],
                                       "extras": ["fast"]},
                               "1.0": {"tag": linux, "requires": ["old; extra == 'fast'"]}},
                       "bar": {"1.0": {}}, "old": {"1.0": {}}, "base-dep": {"1.0": {}}})
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    result = asyncio.run(resolve(["app"], TARGET, client, None, ResolveOptions(), distribution=_distribution("foo")))
    # The extra's requirement comes from 2.0's metadata; its other requirements do not: the
    # runtime's lock says what its own wheel needs.
    assert {d.name: str(d.version) for d in result.dists} == {"app": "1.0", "foo": "2.0", "bar": "1.0"}
    assert result.missing_extras == ()
    assert "https://index.test/files/foo-2.0-cp314-cp314-manylinux_2_28_x86_64.whl.metadata" in index.requests
    assert not [r for r in index.requests if r.endswith(".whl")]  # no wheel fetched for it
    # An extra that version's metadata does not have either is said as for any wheel.
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    result = asyncio.run(resolve(["foo[slow]"], TARGET, client, None, ResolveOptions(), distribution=_distribution("foo")))
    assert result.missing_extras == ("foo 2.0 does not provide the extra 'slow'; it is installed without it",)
    # Without dependencies, that metadata is not fetched: the lock's word is said.
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    result = asyncio.run(resolve(["foo[fast]"], TARGET, client, None, ResolveOptions(deps=False),
                                 distribution=_distribution("foo")))
    assert result.missing_extras == ("foo 2.0 comes from the runtime's distribution, whose lock lists no extras: "
                                     "the extra 'fast' is not installed",)
    # What the extra needs must fit too: a need nothing satisfies is an error naming it.
    index = FakeIndex({"foo": {"2.0": {"tag": linux, "requires": ["native; extra == 'fast'"]}},
                       "native": {"1.0": {"tag": linux}}})
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    with pytest.raises(errors.NoCompatibleWheelError) as info:
        asyncio.run(resolve(["foo[fast]"], TARGET, client, None, ResolveOptions(), distribution=_distribution("foo")))
    assert "No wheel of 'native'" in str(info.value) and "It is needed by foo 2.0" in str(info.value)


def test_the_distributions_wheel_gets_the_versions_and_markers_its_metadata_gives() -> None:
    # The helper's aiohttp 3.13.5: the lock lists multidict by name; the project's metadata
    # (an index wheel of the same version, Linux only) says multidict<7, and async-timeout only
    # below Python 3.11. A name the metadata does not mention (the runtime's build's own) stays.
    import json as json_

    from pyemscripten.distribution import parse_distribution_lock

    lock = {"packages": {"web": {"name": "web", "version": "3.0", "file_name": "web-3.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
                                 "sha256": "0" * 64, "depends": ["multi", "timeout", "buildonly"]}}}

    async def distribution():
        return parse_distribution_lock(json_.dumps(lock).encode(), "https://cdn.test/full/pyodide-lock.json")

    linux = "cp314-cp314-manylinux_2_28_x86_64"
    index = FakeIndex({"web": {"3.0": {"tag": linux, "requires": ["multi<7,>=4.5", "timeout; python_version < '3.11'"]}},
                       "multi": {"6.0": {}, "7.0": {}}, "timeout": {"1.0": {}}, "buildonly": {"1.0": {}}})
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    result = asyncio.run(resolve(["web"], TARGET, client, None, ResolveOptions(), distribution=distribution))
    assert {d.name: str(d.version) for d in result.dists} == {"web": "3.0", "multi": "6.0", "buildonly": "1.0"}
    # The crawl fetched that metadata file and went on: no round of resolution was left for it.
    assert result.rounds == 1


def test_the_distributions_wheel_takes_no_metadata_of_another_release() -> None:
    # The index's .metadata for web 3.0 (Linux only) names web 2.0, which needs multi<6: not
    # 3.0's Requires-Dist (metadata_of passes an index's version with such metadata over), so
    # the runtime's own web 3.0 keeps its lock's word: multi, any version.
    import json as json_

    from pyemscripten.distribution import parse_distribution_lock

    lock = {"packages": {"web": {"name": "web", "version": "3.0", "file_name": "web-3.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
                                 "sha256": "0" * 64, "depends": ["multi"]}}}

    async def distribution():
        return parse_distribution_lock(json_.dumps(lock).encode(), "https://cdn.test/full/pyodide-lock.json")

    linux = "cp314-cp314-manylinux_2_28_x86_64"
    index = FakeIndex({"web": {"3.0": {"tag": linux}}, "multi": {"6.0": {}, "7.0": {}}})
    serve_metadata(index, "web", f"web-3.0-{linux}.whl", metadata_text("web", "2.0", {"requires": ["multi<6"]}))
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    result = asyncio.run(resolve(["web"], TARGET, client, None, ResolveOptions(), distribution=distribution))
    assert {d.name: str(d.version) for d in result.dists} == {"web": "3.0", "multi": "7.0"}
    assert f"{BASE.rsplit('/', 2)[0]}/files/web-3.0-{linux}.whl.metadata" in index.requests


def test_a_wheel_named_by_its_url_that_does_not_fit_is_not_swapped_for_the_distributions() -> None:
    url = "https://files.test/foo-2.0-cp313-cp313-pyodide_2025_0_wasm32.whl#sha256=" + "1" * 64
    client = IndexClient(FakeIndex({}), [BASE], RetryPolicy(attempts=1, backoff=0), sleep=no_sleep)
    asked = []

    async def distribution():
        asked.append(1)
        return await _distribution("foo")()

    with pytest.raises(errors.NoCompatibleWheelError) as info:
        asyncio.run(resolve([url], TARGET, client, None, ResolveOptions(), distribution=distribution))
    text = str(info.value)
    assert ("The wheel named by its URL, https://files.test/foo-2.0-cp313-cp313-pyodide_2025_0_wasm32.whl, is for: "
            "cp313-cp313-pyodide_2025_0_wasm32") in text, text
    assert text.endswith("Give the URL of a wheel built for this runtime (or a pure-Python one), or name foo without "
                         "a URL to take it from the indexes.")
    assert info.value.url is not None and asked == []  # the distribution cannot help a URL: not asked for
    # The same URL twice is one requirement; with two hashes, said so.
    same = url.replace("#sha256=", "#SHA256=")
    with pytest.raises(errors.NoCompatibleWheelError):
        asyncio.run(resolve([url, same], TARGET, client, None, ResolveOptions()))
    with pytest.raises(errors.InvalidRequirementError, match="one URL with two hashes"):
        asyncio.run(resolve([url, url[:-1] + "2"], TARGET, client, None, ResolveOptions()))


def test_a_kept_project_is_explained_without_its_page() -> None:
    # packaging is kept (the installer runs on it); app 1.0 needs a newer one, and its page was
    # never asked for: the conflict is explained, not left as an internal request for data.
    index = FakeIndex({"app": {"3.0": {"requires": ["lib==1"]}, "2.0": {"requires": ["lib==1"]},
                               "1.0": {"requires": ["packaging>=30"]}}, "lib": {"1.0": {}, "2.0": {}}})
    installed = {"packaging": InstalledDist("packaging", Version("26.0"))}
    with pytest.raises(errors.ResolutionImpossibleError) as info:
        run(index, ["app", "lib==2"], installed=installed, kept=frozenset({"packaging"}))
    assert "packaging: 26.0 is installed and kept: pyemscripten itself runs on it" in str(info.value)
    assert "yanked" not in str(info.value)


def test_a_version_the_index_offers_only_yanked_comes_from_the_distribution() -> None:
    # Once the distribution is loaded (native is on no index), its foo 2.0 stands for the
    # version whose every index file is yanked.
    index = FakeIndex({"foo": {"2.0": {"yanked": "broken upload"}, "1.0": {}}})
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    result = asyncio.run(resolve(["foo==2.0", "native"], TARGET, client, None, ResolveOptions(),
                                 distribution=_distribution("foo", "native")))
    dist = {d.name: d for d in result.dists}["foo"]
    assert result.from_distribution[dist.file.url] == "the index's files of 2.0 for this runtime are yanked"
    assert (str(dist.version), dist.file.url, dist.yanked) == (
        "2.0", "https://cdn.test/full/foo-2.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl", None)


def test_the_yanked_hint_only_when_every_version_is_yanked() -> None:
    versions = {f"{v}.0": {"yanked": True} for v in range(2, 10)} | {"1.0": {}}
    index = FakeIndex({"a": {"1.0": {"requires": ["b>=1"]}}, "c": {"1.0": {"requires": ["b<1"]}}, "b": versions})
    with pytest.raises(errors.ResolutionImpossibleError) as info:
        run(index, ["a", "c"])
    assert "9.0 (yanked)" in str(info.value) and "taken only when pinned" not in str(info.value)


def test_no_wheel_error_names_browser_builds_for_another_python_apart_and_not_wasi() -> None:
    index = FakeIndex({"p": {"1.0": {"tags": ["cp312-cp312-pyodide_2024_0_wasm32"]},
                             "2.0": {"tags": ["cp313-cp313-pyemscripten_2026_0_wasm32", "cp314-cp314-wasi_0_0_0_wasm32"]}}})
    with pytest.raises(errors.NoCompatibleWheelError) as info:
        run(index, ["p"])
    text = str(info.value)
    assert "Browser builds are on offer for other runtimes: cp312-cp312-pyodide_2024_0_wasm32 (p 1.0). A platform" in text
    assert ("Browser builds are on offer for this platform: cp313-cp313-pyemscripten_2026_0_wasm32 (p 2.0). "
            "They are for this platform but another Python: this runtime is Python 3.14.2.") in text
    assert "wasi_0_0_0_wasm32 (p" not in text


def test_no_wheel_error_says_who_needs_it_puts_this_python_first_and_advises_by_cause() -> None:
    linux = "manylinux_2_28_x86_64"
    index = FakeIndex({"app": {"1.0": {"requires": ["native"]}},
                       "native": {"1.0": {"tags": [f"cp314-cp314t-{linux}", f"cp313-cp313-{linux}", f"cp314-cp314-{linux}",
                                                   f"cp39-abi3-{linux}"]}},
                       "old": {"1.0": {"requires_python": ">=3.15"}, "2.0": {"requires_python": ">=3.16"}}})
    with pytest.raises(errors.NoCompatibleWheelError) as info:
        run(index, ["app"])
    assert info.value.needed_by == ["app 1.0"]
    lines = str(info.value).splitlines()
    assert lines[1] == "  It is needed by app 1.0."
    # this Python's own ABI first, not the free-threaded cp314t one that shares its prefix
    assert lines[2] == (f"  Wheels on offer are for: cp314-cp314-{linux}, cp39-abi3-{linux}, cp313-cp313-{linux}, "
                        f"cp314-cp314t-{linux}.")
    assert lines[-1] == "  No version of native has one: ask its maintainers for a pyemscripten_2026_0_wasm32 build."
    with pytest.raises(errors.NoCompatibleWheelError) as info:
        run(index, ["old"])
    assert str(info.value).splitlines()[1:] == [
        "  Wheels with fitting tags exist, but their Requires-Python excludes Python 3.14.2.",
        "  Wheels on offer are for: py3-none-any.",
        "  (The index's page for it: https://index.test/simple/old/.)",
        "  The newest, old 2.0, requires Python >=3.16.",  # which Python to use
        "  Use a runtime whose Python these versions accept, or ask the maintainers of old for a release for Python 3.14.2."]


def test_a_page_with_no_files_at_all_is_said_as_such() -> None:
    # An index URL without a scheme, in a page whose server answers any path with its own
    # HTML (a dev server's fallback): a page of no files, not "only source distributions".
    error = errors.NoCompatibleWheelError("lib", ["pyemscripten_2026_0_wasm32"], [], "3.14.2",
                                          page_url="http://localhost:5173/pypi.org/simple/lib/", no_files=True)
    assert str(error).splitlines()[1:] == [
        "  Its page http://localhost:5173/pypi.org/simple/lib/ lists no files at all.",
        "  This runtime needs a pure-Python wheel (py3-none-any) or one for CPython cp314 (or abi3) tagged "
        "pyemscripten_2026_0_wasm32.",
        "  Check that the index URL names a simple index (such as https://pypi.org/simple/; in a page, an index URL "
        "without https:// is taken relative to the page, whose server may answer any path)."]
    from pyemscripten.seams import Response

    index = FakeIndex({})
    index.routes[BASE + "empty/"] = Response(BASE + "empty/", 200, b"<html><body><div id=app></div></body></html>",
                                             {"content-type": "text/html"})
    with pytest.raises(errors.NoCompatibleWheelError) as info:
        run(index, ["empty"])
    assert info.value.no_files and info.value.page_url == BASE + "empty/"
    # An app's page has links of its own: they are no files either.
    index.routes[BASE + "app/"] = Response(BASE + "app/", 200, b'<html><body><a href="/about">About</a> '
                                           b'<a href="/docs/index.html">Docs</a></body></html>',
                                           {"content-type": "text/html"})
    with pytest.raises(errors.NoCompatibleWheelError) as info:
        run(index, ["app"])
    assert info.value.no_files


def test_a_page_of_source_distributions_only_is_said_as_such() -> None:
    # PyPI's page for docopt lists eleven .tar.gz files and no wheel: not "no files at all".
    from pyemscripten.seams import Response

    index = FakeIndex({})
    sdist = {"filename": "docopt-0.6.2.tar.gz", "url": "https://files.test/docopt-0.6.2.tar.gz",
             "hashes": {"sha256": "ab" * 32}}
    index.routes[BASE + "docopt/"] = Response(BASE + "docopt/", 200, json.dumps(
        {"meta": {"api-version": "1.1"}, "name": "docopt", "files": [sdist]}).encode(),
        {"content-type": "application/vnd.pypi.simple.v1+json"})
    index.routes[BASE + "sdist-html/"] = Response(BASE + "sdist-html/", 200, b'<html><body><a href="'
                                                  b'https://files.test/sdist_html-1.0.tar.gz#sha256=' + b"cd" * 32 +
                                                  b'">sdist_html-1.0.tar.gz</a></body></html>',
                                                  {"content-type": "text/html"})
    for name in ("docopt", "sdist-html"):
        with pytest.raises(errors.NoCompatibleWheelError) as info:
            run(index, [name])
        assert not info.value.no_files, name
        lines = str(info.value).splitlines()
        assert lines[1] == "  Only source distributions are on offer, no wheels.", lines
        assert lines[-1].startswith(f"  If {name} is pure Python, build its wheel from the source distribution (pip "
                                    f"wheel {name} --no-deps -w dist/)"), lines


def test_an_index_host_written_without_its_scheme_is_said() -> None:
    told = "pypi.org/simple/ has no http:// or https://: in a page it is taken relative to the page's own URL " \
           "(write https://pypi.org/simple/ for that host)."
    assert told in str(errors.ProjectNotFoundError("lib", ["pypi.org/simple/"]))
    secret = str(errors.ProjectNotFoundError("lib", ["user:s3cret@pypi.example.com/simple/?token=abc"]))
    assert "s3cret" not in secret and "abc" not in secret and "***@pypi.example.com/simple/?token=***" in secret
    for fine in ("/simple/", "./simple/", "simple/", "https://pypi.org/simple/"):
        assert "has no http://" not in str(errors.ProjectNotFoundError("lib", [fine])), fine


def test_no_wheel_error_counts_the_tags_left_unshown_beside_what_needs_it() -> None:
    error = errors.NoCompatibleWheelError("p", ["pyemscripten_2026_0_wasm32"], [f"t{k}" for k in range(15)], "3.14",
                                          needed_by=["a 1.0", "b 1.0"])
    text = str(error)
    assert "  It is needed by a 1.0, b 1.0.\n" in text
    assert "  Wheels on offer are for: t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11 and 3 more.\n" in text


def test_giving_up_after_too_many_rounds_names_the_projects_without_wheels_it_reached() -> None:
    index = _walk_index()
    with pytest.raises(errors.ResolutionTooDeepError) as info:
        run(index, ["app"], max_rounds=1)
    assert info.value.without_wheels == ["native (needed by app)"]
    assert str(info.value).endswith("It reached projects with no wheel for this runtime, which it may have been "
                                    "looking for a way around: native (needed by app). Pin versions of the projects "
                                    "that need them which do not, or ask for builds of them for this runtime.")


def test_a_version_below_the_newest_because_of_a_project_without_wheels_is_said() -> None:
    # mid's newest needs native through deep; top is pinned below its newest by the user, and
    # its newest needs nothing without wheels: nothing said about it. A pre-release above
    # the newest final does not count as the newest.
    index = FakeIndex({"top": {"1.0": {"requires": ["mid"]}, "2.0": {"requires": ["mid"]}},
                       "mid": {"1.0": {}, "2.0": {"requires": ["deep"]}, "3.0a1": {}},
                       "deep": {"1.0": {"requires": ["native"]}},
                       "native": {"1.0": {"tag": "cp314-cp314-manylinux_2_28_x86_64"}}})
    result = run(index, ["top<2"])
    assert {d.name: str(d.version) for d in result.dists} == {"top": "1.0", "mid": "1.0"}
    assert result.held_back == ("mid 1.0 is chosen, not its newest version 2.0: 2.0 needs native (directly or through its "
                                "dependencies), which has no wheel for this runtime",)


def test_a_conflict_says_which_allowed_versions_have_wheels_only_for_other_platforms() -> None:
    index = FakeIndex({"app": {"1.0": {"requires": ["core==2.0"]}},
                       "core": {"1.0": {}, "2.0": {"tag": "cp314-cp314-manylinux_2_28_x86_64"}}})
    with pytest.raises(errors.ResolutionImpossibleError) as info:
        run(index, ["app"])
    assert "  core 2.0 has wheels only for other platforms\n" in str(info.value)
    assert info.value.elsewhere == ["core"]
    with pytest.raises(errors.ResolutionImpossibleError) as info:  # a version no index has at all
        run(index, ["core==9"])
    assert info.value.elsewhere == [] and "other platforms" not in str(info.value)


def test_a_conflict_over_a_version_the_indexs_requires_python_excludes_says_so() -> None:
    # core 2.0's wheel fits this runtime's tags; the index's requires-python excludes it: not
    # "wheels only for other platforms" (nor so a case for the runtime's distribution).
    index = FakeIndex({"app": {"1.0": {"requires": ["core==2.0"]}},
                       "core": {"1.0": {}, "2.0": {"requires_python": "<3.14"},
                                "3.0": {"tags": ["py3-none-any", "cp314-cp314-manylinux_2_28_x86_64"],
                                        "requires_python": ">=3.15"}}})
    for request, version, spec in ((["app"], "2.0", "<3.14"), (["core>=3"], "3.0", ">=3.15")):
        with pytest.raises(errors.ResolutionImpossibleError) as info:
            run(index, request)
        assert (f"  core {version} has wheels for this runtime, but their Requires-Python ({spec}, as the index gives "
                "it) excludes Python 3.14.2\n") in str(info.value)
        assert info.value.elsewhere == [] and "other platforms" not in str(info.value)


def test_a_version_below_the_newest_because_it_pins_a_version_without_wheels_is_said() -> None:
    # pydantic for an older runtime: its newest pins a pydantic-core with no wheel for it,
    # whose only wheel that fits is a placeholder (0.0.1): pydantic 1.x is taken, and why is said.
    index = FakeIndex({"app": {"1.0": {}, "2.0": {"requires": ["core==2.0"]}},
                       "core": {"0.0.1": {}, "2.0": {"tag": "cp314-cp314-manylinux_2_28_x86_64"}}})
    result = run(index, ["app"])
    assert {d.name: str(d.version) for d in result.dists} == {"app": "1.0"}
    assert result.held_back == ("app 1.0 is chosen, not its newest version 2.0: 2.0 needs core==2.0 (directly or "
                                "through its dependencies), which has no wheel for this runtime",)


def test_a_version_below_the_newest_because_an_extra_needs_a_project_without_wheels_is_said() -> None:
    # networkx[default]: its newest's extra needs numpy and more (no browser wheels), so an old
    # version without the extra is taken; why, beside the missing extra, is said too. Through
    # a dependency's own extra as well.
    dead = {"tag": "cp314-cp314-manylinux_2_28_x86_64"}
    index = FakeIndex({"graph": {"1.0": {}, "3.0": {"extras": ["default"], "requires": ["native; extra == 'default'"]}},
                       "app": {"1.0": {}, "2.0": {"requires": ["plot[fast]"]}},
                       "plot": {"1.0": {"extras": ["fast"], "requires": ["native; extra == 'fast'"]}},
                       "native": {"1.0": dead}})
    result = run(index, ["graph[default]", "app"])
    assert {d.name: str(d.version) for d in result.dists} == {"graph": "1.0", "app": "1.0"}
    assert sorted(result.held_back) == [
        "app 1.0 is chosen, not its newest version 2.0: 2.0 needs native (directly or through its dependencies), "
        "which has no wheel for this runtime",
        "graph 1.0 is chosen, not its newest version 3.0: 3.0 needs native (directly or through its dependencies), "
        "which has no wheel for this runtime"]


def test_the_walks_error_names_only_what_its_last_step_was_getting_around() -> None:
    dead = {"tag": "cp314-cp314-manylinux_2_28_x86_64"}
    index = FakeIndex({"good": {str(v): {"requires": ["dead-a"] if v > 1 else []} for v in range(1, 11)},
                       "bad": {str(v): {"requires": ["dead-b"]} for v in range(1, 61)},
                       "dead-a": {"1.0": dead}, "dead-b": {"1.0": dead}})
    with pytest.raises(errors.NoCompatibleWheelError) as info:
        run(index, ["good", "bad"], max_walk_rounds=8)
    assert info.value.project == "dead-b" and "older versions of bad (back to" in str(info.value)


def test_each_project_without_wheels_has_its_own_walk_bound() -> None:
    """one and two each walk back from 59 to 1 around a different project without wheels: 12
    passes each, 24 in all, over a bound of 12, but neither walk is over it."""
    dead = {"tag": "cp314-cp314-manylinux_2_28_x86_64"}
    index = FakeIndex({"one": {str(v): {"requires": ["dead-a"] if v > 1 else []} for v in range(1, 60)},
                       "two": {str(v): {"requires": ["dead-b"] if v > 1 else []} for v in range(1, 60)},
                       "dead-a": {"1.0": dead}, "dead-b": {"1.0": dead}})
    result = run(index, ["one", "two"], max_walk_rounds=12)
    assert {d.name: str(d.version) for d in result.dists} == {"one": "1", "two": "1"}
    assert result.rounds > 20
    with pytest.raises(errors.NoCompatibleWheelError) as info:  # the bound still holds for each
        run(index, ["one", "two"], max_walk_rounds=11)
    assert info.value.project == "dead-a" and "stopped after 12 passes through older versions of one (back to" \
        in str(info.value)


def test_no_held_back_claim_where_a_requirement_or_yanking_rules_the_newest_out() -> None:
    native = {"native": {"1.0": {"tag": "cp314-cp314-manylinux_2_28_x86_64"}}}
    mid = {"1.0": {}, "2.0": {"requires": ["native"]}}
    for request, parent in ((["app", "mid<2"], ["mid"]), (["app"], ["mid<2"])):  # the user's pin, a parent's bound
        result = run(FakeIndex({"app": {"1.0": {"requires": parent}}, "mid": mid, "other": {"1.0": {"requires": ["mid"]}},
                                **native}), request + ["other"])
        assert {d.name: str(d.version) for d in result.dists}["mid"] == "1.0" and result.held_back == ()
    # a 3.0 is yanked (and needs native): 2.0 is the newest the resolver offers, and chosen.
    index = FakeIndex({"a": {"2.0": {}, "3.0": {"yanked": True, "requires": ["native"]}},
                       "b": {"1.0": {"requires": ["a"]}}, **native})
    result = run(index, ["b"])
    assert {d.name: str(d.version) for d in result.dists}["a"] == "2.0" and result.held_back == ()


def finder_of(files: dict[str, list[tuple[str, str | None]]], python: str = "3.14.2",
              platform: str = "pyemscripten_2026_0_wasm32"):
    """A Finder over pages given as {project: [(file name, yanked reason or None)]}."""
    from pyemscripten.candidates import Finder, KnownData
    from pyemscripten.index_pages import IndexFile, ProjectPage

    pages = {name: ProjectPage(name, f"{BASE}{name}/", tuple(
        IndexFile(filename, f"https://files.test/{filename}", (("sha256", "00"),), yanked=yanked)
        for filename, yanked in listed)) for name, listed in files.items()}
    return Finder(Target.for_platform(platform, python), KnownData(pages=pages), {}, ResolveOptions())


def test_a_page_listing_another_projects_wheel_offers_only_its_own() -> None:
    # pip passes over a link whose file name names another project; so does the resolver.
    finder = finder_of({"foo": [("bar-9.0-py3-none-any.whl", None), ("foo-1.0-py3-none-any.whl", None)]})
    assert [(str(v), f.filename) for v, f in finder.versions("foo")] == [("1.0", "foo-1.0-py3-none-any.whl")]


def test_the_larger_build_tag_wins_whatever_the_order() -> None:
    names = ["foo-1.0-2-py3-none-any.whl", "foo-1.0-10-py3-none-any.whl", "foo-1.0-py3-none-any.whl",
             "foo-1.0-1-py3-none-any.whl"]
    for order in (names, names[::-1]):
        finder = finder_of({"foo": [(n, None) for n in order]})
        assert [f.filename for _, f in finder.versions("foo")] == ["foo-1.0-10-py3-none-any.whl"]


def test_a_yanked_final_version_does_not_keep_a_pre_release_out() -> None:
    # PEP 592: a yanked file is ignored unless pinned, so for foo>1.0 the only version left
    # is a pre-release, which PEP 440 then allows.
    from pyemscripten.candidates import Dependency

    finder = finder_of({"foo": [("foo-1.0-py3-none-any.whl", None), ("foo-1.5-py3-none-any.whl", "broken"),
                                ("foo-2.0b1-py3-none-any.whl", None)]})
    wanted = Dependency.parse("foo>1.0")
    assert [str(c.version) for c in finder.candidates("foo", frozenset(), [wanted])] == ["2.0b1"]
    pinned = Dependency.parse("foo==1.5")  # pinned: the yanked file is chosen
    assert [(str(c.version), c.yanked) for c in finder.candidates("foo", frozenset(), [pinned])] == [("1.5", "broken")]


def test_a_runtime_on_a_release_candidate_takes_files_for_its_release() -> None:
    # As pip compares sys.version_info[:3]: Python 3.15.0rc1 meets Requires-Python >=3.15.
    from pyemscripten.candidates import Finder, KnownData
    from pyemscripten.index_pages import IndexFile, ProjectPage

    file = IndexFile("foo-1.0-py3-none-any.whl", "https://files.test/foo-1.0-py3-none-any.whl", (("sha256", "00"),),
                     requires_python=">=3.15")
    data = KnownData(pages={"foo": ProjectPage("foo", f"{BASE}foo/", (file,))})
    finder = Finder(Target.for_platform("pyemscripten_2026_5_wasm32", "3.15.0rc1"), data, {}, ResolveOptions())
    assert [str(v) for v, _ in finder.versions("foo")] == ["1.0"]


def test_a_newer_minor_version_of_the_simple_api_is_read_and_said() -> None:
    # PEP 629: a newer minor version is read ("clients SHOULD warn"); 1.4 is the newest known.
    index = FakeIndex({"a": {"1.0": {"requires": ["b"]}}, "b": {"1.0": {}}, "c": {"1.0": {}}})
    for name, version in (("a", "1.9"), ("b", "1.9"), ("c", "1.4")):
        url = f"{BASE}{name}/"
        index.routes[url] = replace(index.routes[url], body=index.routes[url].body.replace(b'"1.1"', f'"{version}"'.encode()))
    result = run(index, ["a", "c"])
    assert {d.name for d in result.dists} == {"a", "b", "c"}
    assert result.warnings == (f"The index answered with simple API version 1.9 ({BASE}a/ and 1 other pages), newer "
                               "than the 1.4 this installer knows (PEP 629): what is new in that version was not used "
                               "(a newer pyemscripten may use it)",)
    assert run(FakeIndex({"a": {"1.0": {}}}), ["a"]).warnings == ()


def test_pins_that_need_each_other_cut_off_by_a_backtrack_are_left_out() -> None:
    # d 2.0 -> a -> b -> a, then a needs d<2: d 1.0 is chosen, and a and b, which still
    # require each other, are no longer wanted by anything (resolvelib 1.2.1 recursed
    # through that cycle until RecursionError).
    index = FakeIndex({"d": {"1.0": {}, "2.0": {"requires": ["a"]}}, "a": {"1.0": {"requires": ["b", "d<2"]}},
                       "b": {"1.0": {"requires": ["a"]}}})
    assert {d.name: str(d.version) for d in run(index, ["d"]).dists} == {"d": "1.0"}
    # A cycle the root does reach stays, with its order.
    index = FakeIndex({"a": {"1.0": {"requires": ["b"]}}, "b": {"1.0": {"requires": ["a", "c"]}}, "c": {"1.0": {}}})
    result = run(index, ["a"])
    assert [d.name for d in result.dists][0] == "c" and {d.name for d in result.dists} == {"a", "b", "c"}
    assert result.needed_by["b"] == ("a 1.0",) and result.needed_by["c"] == ("b 1.0",)


def test_a_target_given_as_major_minor_compares_requires_python_as_its_markers() -> None:
    # "3.14" is 3.14.2 on 2026_0 for python_full_version markers, and so for Requires-Python.
    index = FakeIndex({"a": {"1.0": {}, "2.0": {"requires_python": ">=3.14.1", "requires": ["b; python_full_version >= '3.14.1'"]}},
                       "b": {"1.0": {}}})
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    target = Target.for_platform("pyemscripten_2026_0_wasm32", "3.14")
    result = asyncio.run(resolve(["a"], target, client, None, ResolveOptions()))
    assert {d.name: str(d.version) for d in result.dists} == {"a": "2.0", "b": "1.0"}


def test_a_version_below_the_newest_because_it_needs_a_version_no_index_has_is_said_as_such() -> None:
    # Not a platform's doing: no version of b below 1.0 exists at all.
    index = FakeIndex({"a": {"1.0": {}, "2.0": {"requires": ["b<1.0"]}}, "b": {"1.0": {}}})
    result = run(index, ["a"])
    assert {d.name: str(d.version) for d in result.dists} == {"a": "1.0"}
    assert result.held_back == ("a 1.0 is chosen, not its newest version 2.0: 2.0 needs b<1.0 (directly or through "
                                "its dependencies), which no version on the index fits",)


def test_an_installed_version_without_an_extra_asked_for_is_said_as_an_index_one_is() -> None:
    index = FakeIndex({"a": {"1.0": {}}, "b": {"1.0": {}}})
    installed = {"a": InstalledDist("a", Version("1.0")),
                 "b": InstalledDist("b", Version("1.0"), (Requirement("c; extra == 'fast'"),), ("more",)),
                 "c": InstalledDist("c", Version("1.0"))}
    result = run(index, ["a[nope]", "b[more,fast]"], installed=installed)
    assert {(d.name, d.installed) for d in result.dists} == {("a", True), ("b", True), ("c", True)}
    assert result.missing_extras == ("a 1.0 (installed) does not provide the extra 'nope'; it is kept without it",)


def test_a_dependency_no_index_has_names_what_needs_it() -> None:
    # Not the user's name to spell: what asked for it (with the extra) is said instead.
    index = FakeIndex({"requests": {"2.0": {"extras": ["socks"], "requires": ["pysocks; extra == 'socks'"]}}})
    with pytest.raises(errors.ProjectNotFoundError) as info:
        run(index, ["requests[socks]"])
    assert info.value.needed_by == ["requests[socks] 2.0"]
    assert str(info.value).startswith("No index has a project named 'pysocks', which requests[socks] 2.0 needs (asked "
                                      f"for: {BASE}pysocks/). Name the index that hosts it")
    with pytest.raises(errors.ProjectNotFoundError) as info:
        run(index, ["pysocks"])
    assert info.value.needed_by == [] and "Check the spelling" in str(info.value)


def test_requirements_backjumping_calls_impossible_are_met_by_backtracking() -> None:
    # sarugaku/resolvelib#206: the one resolution is p2 1 with p1 1. Backjumping pins p2 1 and
    # p1 2, meets p0's p2==2, and undoes pins back past p1 2 (whose dependency, p0, is not in
    # the conflict), so p1 1 was never tried.
    index = FakeIndex({"p0": {"2": {"requires": ["p2==2"]}},
                       "p1": {"1": {}, "2": {"requires": ["p0==2"]}},
                       "p2": {"1": {"requires": ["p1<=2"]}, "2": {"requires": ["p1==3"]}}})
    assert {d.name: str(d.version) for d in run(index, ["p2"]).dists} == {"p2": "1", "p1": "1"}


_PROJECTS = ("a", "b", "c", "d")
_Dep = tuple[str, str, int, bool]  # project, operator, version, with the extra x
_Graph = dict[str, dict[int, tuple[list[_Dep], list[_Dep]]]]  # project -> version -> (dependencies, extra x's)


def _solutions(graph: _Graph, root: str) -> list[dict[str, int]]:
    """Every choice of versions (a project left out or one of its versions) that installs
    ``root``: each chosen version's dependencies chosen, in their ranges, and those of its
    extra x where a chosen dependency asks for it."""
    compare = {"==": operator.eq, "<=": operator.le, ">=": operator.ge, "!=": operator.ne}
    found = []
    for choice in itertools.product(*[[0, *graph[p]] for p in _PROJECTS]):
        chosen = {p: v for p, v in zip(_PROJECTS, choice) if v}
        with_x: set[str] = set()
        while True:  # an extra's dependencies may ask for another project's extra
            wanted = [dep for p, v in chosen.items() for dep in graph[p][v][0] + (graph[p][v][1] if p in with_x else [])]
            if with_x == (with_x := {dep[0] for dep in wanted if dep[3]}):
                break
        if root in chosen and all(dep in chosen and compare[op](chosen[dep], bound) for dep, op, bound, _ in wanted):
            found.append(chosen)
    return found


_DEPENDENCIES = st.lists(st.tuples(st.sampled_from(_PROJECTS), st.sampled_from(["==", "<=", ">=", "!="]),
                                   st.integers(1, 4), st.booleans()), max_size=2, unique_by=lambda t: t[0])
_GRAPHS = st.fixed_dictionaries({p: st.dictionaries(st.integers(1, 3), st.tuples(_DEPENDENCIES, _DEPENDENCIES),
                                                    min_size=1, max_size=3) for p in _PROJECTS})


def _requirement(dep: _Dep, marker: str = "") -> str:
    name, op, bound, with_x = dep
    return f"{name}{'[x]' if with_x else ''}{op}{bound}{marker}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_GRAPHS)
@example({"a": {2: ([("c", "==", 2, False)], [])}, "b": {1: ([], []), 2: ([("a", "==", 2, False)], [])},
          "c": {1: ([("b", "<=", 2, False)], []), 2: ([("b", "==", 3, False)], [])},
          "d": {1: ([], [])}}).via("resolvelib#206, renamed")
@example({"a": {3: ([], []), 1: ([], [("c", "==", 1, False)])}, "b": {1: ([], [])},
          "c": {1: ([("a", "==", 1, False)], []), 2: ([("a", ">=", 1, True), ("d", "<=", 1, False)], [])},
          "d": {1: ([("a", "==", 2, False)], [])}}).via("a[x] asked for again with none of its requirements left")
def test_resolution_is_found_whenever_one_exists(graph: _Graph) -> None:
    # Small dependency graphs, with an extra, checked against every choice of versions: a
    # resolution comes back exactly when one exists, and it meets every requirement of what
    # it chose.
    graph = {p: {v: ([d for d in deps if d[0] != p], [d for d in x if d[0] != p]) for v, (deps, x) in versions.items()}
             for p, versions in graph.items()}
    index = FakeIndex({p: {str(v): {"extras": ["x"], "requires": [_requirement(d) for d in deps]
                                    + [_requirement(d, "; extra == 'x'") for d in x]}
                           for v, (deps, x) in versions.items()} for p, versions in graph.items()})
    solutions = _solutions(graph, "c")
    try:
        chosen = {d.name: int(str(d.version)) for d in run(index, ["c"]).dists}
    except errors.ResolutionImpossibleError:
        assert not solutions
    else:
        assert chosen in solutions
