#!/usr/bin/env python3
"""Drives a fresh `renkei serve --demo` with the FHIR clients integrators use; called by run.sh.

fhirpy (beda.software) and fhirclient (SMART on FHIR) run the review's mCSD queries
(`fhir-conformance.md`): searches with modifiers, `.count()` (`_count=0` and `Bundle.total`),
paging to the end, `_include` and `_revinclude`, `near`, repeated `service-type`, reads; and, with
plain HTTP as fhir-kit-client sends them, POST `_search` and XML. The answers of the two
clients and of the different ways of asking must agree. Exit 1 on any client error or
disagreement, with every failure listed.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
import unicodedata
import xml.etree.ElementTree as ET

import requests
from fhirclient import client as smart_client
from fhirclient.models.bundle import Bundle
from fhirclient.models.location import Location
from fhirclient.models.organization import Organization
from fhirpy import SyncFHIRClient

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
from soak import free_port, server_env, stop_server, wait_until_healthy  # noqa: E402

FAILURES = []


def check(what, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + str(detail) if detail and not ok else ''}")
    if not ok:
        FAILURES.append(what)


def fhirpy_checks(fhir):
    c = SyncFHIRClient(fhir)
    orgs = c.resources("Organization")
    total = orgs.count()
    everything = orgs.limit(200).fetch_all()
    check("fhirpy Organization .count() equals paging to the end", total == len(everything) > 0, (total, len(everything)))
    clinics = orgs.search(name__contains="クリニック")
    n = clinics.count()
    got = clinics.limit(7).fetch_all()
    check("fhirpy name:contains .count() and fetch_all agree", n == len(got) > 0, (n, len(got)))
    named = lambda o: any("クリニック" in unicodedata.normalize("NFKC", x) for x in [o["name"], *o.get("alias", [])])  # noqa: E731
    check("fhirpy name:contains matches names", all(named(o) for o in got), [o["name"] for o in got if not named(o)])
    first = orgs.search(_id=everything[0]["id"]).first()
    check("fhirpy first() by _id", first is not None and first["id"] == everything[0]["id"])
    read = c.reference("Organization", everything[0]["id"]).to_resource()
    check("fhirpy read", read["id"] == everything[0]["id"])
    near = c.resources("Location").search(near="34.6269|135.6009|3|km")
    near_n = near.count()
    near_all = near.limit(25).fetch_all()
    check("fhirpy near: .count() and paging agree", near_n == len(near_all) > 0, (near_n, len(near_all)))
    raw = c.resources("Location").search(near="34.6269|135.6009|3|km").include("Location", "organization").limit(5).fetch_raw()
    modes = [e["search"]["mode"] for e in raw.get("entry", [])]
    check("fhirpy _include=Location:organization", modes.count("match") == 5 and "include" in modes, modes)
    rev = orgs.search(_id=everything[0]["id"]).revinclude("Location", "organization").fetch_raw()
    kinds = sorted(e["resource"]["resourceType"] for e in rev.get("entry", []))
    check("fhirpy _revinclude=Location:organization", kinds == ["Location", "Organization"], kinds)
    # Chained searches repeat the parameter (AND); commas in one value are OR.
    both = c.resources("HealthcareService").search(service_type="home_visit").search(service_type="always_available")
    either = c.resources("HealthcareService").search(service_type="home_visit,always_available")
    a, b = both.count(), either.count()
    check("fhirpy service-type AND is narrower than OR", 0 < a < b, (a, b))
    for s in both.limit(100).fetch_all():
        codes = {t["coding"][0]["code"] for t in s["type"]}
        if not {"home_visit", "always_available"} <= codes:
            check("fhirpy service-type AND: every match has both", False, s["id"])
            break
    recent = orgs.search(_lastUpdated="ge2000-01-01").count()
    check("fhirpy _lastUpdated=ge", recent == total, (recent, total))
    return total


def fhirclient_checks(fhir, total):
    smart = smart_client.FHIRClient(settings={"app_id": "renkei-ci", "api_base": fhir + "/"})
    server = smart.server
    search = Organization.where(struct={"name:contains": "クリニック", "_count": "20"})
    bundle = search.perform(server)
    check("fhirclient search parses as R4 models", isinstance(bundle, Bundle) and bundle.entry)
    pages, seen, url = 0, 0, None
    b = Organization.where(struct={"_count": "100"}).perform(server)
    while b is not None:
        pages += 1
        seen += len(b.entry or [])
        url = next((l.url for l in (b.link or []) if l.relation == "next"), None)
        b = Bundle(server.request_json(url[len(fhir) + 1:])) if url else None
        if pages > 100:
            break
    check("fhirclient pages to the end", seen == total, (seen, total))
    first_id = Organization.where(struct={"_count": "1"}).perform_resources(server)[0].id
    org = Organization.read(first_id, server)
    check("fhirclient read Organization", org.id == first_id and org.name)
    loc = Location.read(first_id, server)
    check("fhirclient read Location", loc.managingOrganization.reference == f"Organization/{first_id}")
    near = Location.where(struct={"near": "34.6269|135.6009|2|km", "_count": "10"}).perform(server)
    check("fhirclient near", bool(near.entry))


def http_checks(fhir):
    form = requests.post(
        fhir + "/Organization/_search",
        data={"name:contains": "クリニック", "_count": "500"},
        headers={"Accept": "application/fhir+json"},
        timeout=30,
    )
    get = requests.get(fhir + "/Organization", params={"name:contains": "クリニック", "_count": "500"}, timeout=30)
    ids = lambda r: sorted(e["resource"]["id"] for e in r.json().get("entry", []))  # noqa: E731
    check("POST _search (form) answers as GET", form.status_code == 200 and ids(form) == ids(get), form.status_code)
    for how, kwargs in [
        ("_format=xml", {"params": {"_count": "2", "_format": "xml"}}),
        ("Accept: application/fhir+xml", {"params": {"_count": "2"}, "headers": {"Accept": "application/fhir+xml"}}),
    ]:
        r = requests.get(fhir + "/Organization", timeout=30, **kwargs)
        ok = r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+xml")
        root = ET.fromstring(r.content) if ok else None
        check(f"XML by {how}", ok and root.tag == "{http://hl7.org/fhir}Bundle", r.status_code)
    # (requests decodes gzip itself; br needs a package it does not bring.)
    r = requests.get(fhir + "/Organization", params={"_count": "5"}, headers={"Accept-Encoding": "gzip"}, timeout=30)
    check("gzip answer", r.headers.get("content-encoding") == "gzip" and r.json()["resourceType"] == "Bundle")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default="target/release/renkei", help="the renkei binary")
    ap.add_argument("--database-url", help="PostgreSQL instead of SQLite in a fresh directory")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    if not os.path.exists(binary):
        sys.exit(f"{binary} does not exist: build it first")
    work = tempfile.mkdtemp(prefix="renkei-fhir-clients-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = os.path.join(work, "server.log")
    log = open(log_path, "w")
    server = subprocess.Popen(
        [binary, "serve", "--demo", "--listen", f"127.0.0.1:{port}", "--public-url", base],
        cwd=work,
        env=server_env(args.database_url),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        if not wait_until_healthy(server, base):
            sys.exit(f"the server did not start; see {log_path}")
        fhir = base + "/fhir"
        total = None
        try:
            total = fhirpy_checks(fhir)
        except Exception:  # a client error is a failure, with its traceback
            traceback.print_exc()
            check("fhirpy: no client error", False)
        try:
            http_checks(fhir)
        except Exception:
            traceback.print_exc()
            check("http: no client error", False)
        try:
            if total:
                fhirclient_checks(fhir, total)
        except Exception:
            traceback.print_exc()
            check("fhirclient: no client error", False)
    finally:
        stop_server(server)
        log.close()
    if FAILURES:
        print(f"fhir-clients: {len(FAILURES)} failure(s); the server log is {log_path}")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("fhir-clients: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
