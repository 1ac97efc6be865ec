#!/usr/bin/env python3
"""Runs every benchmark against the release server and its baselines, in one run on
this machine, and writes bench/results.json, bench/REPORT.md and two SVG plots.

Called by scripts/bench (which installs wrk and builds everything first). Standard
library only. Every figure is the median of RUNS runs, reported with its spread and
next to a baseline measured in the same run.
"""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
if not TARGET.is_absolute():
    TARGET = REPO / TARGET
# scripts/build-site puts the site in the repository's target/, whatever CARGO_TARGET_DIR is.
SITE = REPO / "target" / "site"
SERVER = TARGET / "release" / "server"
BASELINE = TARGET / "release" / "baseline"
OVERHEAD = TARGET / "release" / "idempotency_overhead"
LUA = REPO / "bench" / "wrk" / "request.lua"
OUT = REPO / "bench"

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "2"))
# SQLite's first WAL checkpoint (at 1,000 pages) falls before the runs: the product's
# databases pass it while agencies are seeded, the bare insert within its warm-up.
WARMUP_SECONDS = 1
CONNECTIONS = 32
# Each second of a scenario's load may use up to this many fresh request numbers.
NUMBERS_PER_SECOND = 10_000
# Enough agencies for every new conversation of a scenario's warm-up and runs.
SEEDED_AGENCIES = NUMBERS_PER_SECOND * (WARMUP_SECONDS + RUNS * SECONDS)
# How many conversations the spread chats write to, round robin: one per connection.
SPREAD = 32
# How far PostgreSQL is, each way, in the scenario that puts it on "another host".
NETWORK_DELAY_MS = 1
# The server and its database get core 0, the load generator core 1 (taskset).
SERVER_CPU, LOAD_CPU = "0", "1"


STARTED = time.monotonic()


def log(message):
    print(f"==> [{time.monotonic() - STARTED:5.0f} s] {message}", flush=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url, process, seconds=60):
    """Until `url` answers 200, or for a `tcp://host:port` URL, until the port accepts."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if url.startswith("tcp://"):
                host, port = url[len("tcp://"):].rsplit(":", 1)
                socket.create_connection((host, int(port)), timeout=1).close()
                return
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


class Process:
    """A server started for the run, pinned to a core when `cpu` is given; its `scratch`
    directory (its data) is deleted when it stops."""

    def __init__(self, argv, env, health, cpu=None, scratch=None):
        prefix = ["taskset", "-c", cpu] if cpu is not None else []
        self.scratch = scratch
        self.process = subprocess.Popen(
            prefix + argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL
        )
        wait_healthy(health, self.process)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


def rss_mb(server):
    """The server's resident memory now, in MB (taskset execs the server: same pid)."""
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return round(kb / 1000, 1)


def with_memory(summary, server):
    """`summary` with the server's resident memory right after the scenario ran."""
    summary["rss_mb"] = rss_mb(server)
    log(f"  resident memory after it: {summary['rss_mb']} MB")
    return summary


def start_server(database_url=None, cpu=SERVER_CPU):
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="messaging-bench-")
    env = {
        "LEPTOS_SITE_ADDR": f"127.0.0.1:{port}",
        "LEPTOS_SITE_ROOT": str(SITE),
        "DATA_DIR": data_dir,
        "RUST_LOG": "error",
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    base = f"http://127.0.0.1:{port}"
    server = Process([str(SERVER)], env, f"{base}/healthz", cpu, scratch=data_dir)
    server.base = base
    server.database_url = database_url or f"sqlite://{data_dir}/messaging.db"
    return server


def api(base, method, path, body=None, token=None, headers=None):
    request = urllib.request.Request(f"{base}{path}", method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(request, data=data, timeout=30) as response:
        return json.loads(response.read() or b"null")


def wrk(url, scenario, seconds, offset=0, pace_ms=0, cpu=LOAD_CPU):
    """One wrk run; returns its summary (requests/s, latency percentiles in µs)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        out_path = out.name
    failures_path = out_path + ".failures"
    env = {
        **os.environ,
        "BENCH_METHOD": scenario.get("method", "GET"),
        "BENCH_PATH": scenario["path"],
        "BENCH_BODY": scenario.get("body", ""),
        "BENCH_KEY": scenario.get("key", ""),
        "BENCH_AUTH": scenario.get("auth", ""),
        "BENCH_ACCEPT_ENCODING": scenario.get("accept_encoding", ""),
        "BENCH_CONVERSATIONS": ",".join(scenario.get("conversations", [])),
        "BENCH_OFFSET": str(offset),
        "BENCH_PACE_MS": str(pace_ms),
        "BENCH_OUT": out_path,
        "BENCH_FAILURES": failures_path,
    }
    prefix = ["taskset", "-c", cpu] if cpu is not None else []
    subprocess.run(
        prefix + ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(LUA), url],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )
    result = json.loads(Path(out_path).read_text())
    os.unlink(out_path)
    if os.path.exists(failures_path):
        result["failure_samples"] = Path(failures_path).read_text().splitlines()[:3]
        os.unlink(failures_path)
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


class Offsets:
    """Hands out each scenario's request numbers, so no run reuses a key or local_id and
    new conversations stay within the seeded agencies."""

    def __init__(self):
        self.next = {}

    def take(self, scenario, seconds):
        start = self.next.get(scenario["prefix"], 0)
        self.next[scenario["prefix"]] = start + NUMBERS_PER_SECOND * seconds
        return start


OFFSETS = Offsets()


def measure(name, base, scenario, pace_ms=0, against=(), settle=None):
    """Warm-up, then RUNS runs; the median and spread of each figure. Each baseline in
    `against` (its results key, base URL and scenario) runs right before each of these runs,
    and the ratios of those pairs are kept: a shared machine's drift then hits both sides.
    `settle`, if given, runs between the warm-up and the runs."""
    url = base + scenario["path"]
    wrk(url, scenario, WARMUP_SECONDS, OFFSETS.take(scenario, WARMUP_SECONDS), pace_ms)
    if settle:
        settle()
    runs, ratios = [], {key: [] for key, _, _ in against}
    for _ in range(RUNS):
        before = {key: wrk(b_base + b_scenario["path"], b_scenario, SECONDS, OFFSETS.take(b_scenario, SECONDS))["rps"]
                  for key, b_base, b_scenario in against}
        runs.append(wrk(url, scenario, SECONDS, OFFSETS.take(scenario, SECONDS), pace_ms))
        for key, baseline_rps in before.items():
            ratios[key].append(runs[-1]["rps"] / baseline_rps)
    bad = sum(r["non_2xx"] + r["socket_errors"] for r in runs)
    samples = [s for r in runs for s in r.get("failure_samples", [])][:3]
    summary = {
        "name": name,
        "rps": statistics.median(r["rps"] for r in runs),
        "rps_min": min(r["rps"] for r in runs),
        "rps_max": max(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_us"] for r in runs) / 1000,
        "p99_ms": statistics.median(r["p99_us"] for r in runs) / 1000,
        "failed_requests": bad,
        "failure_samples": samples,
        "runs": len(runs),
    }
    if against:
        summary["paired_ratios"] = {key: {"median": statistics.median(r), "min": min(r), "max": max(r)}
                                    for key, r in ratios.items()}
    log(f"{name}: {summary['rps']:.0f} req/s ({summary['rps_min']:.0f}–{summary['rps_max']:.0f}), "
        f"p50 {summary['p50_ms']:.2f} ms, p99 {summary['p99_ms']:.2f} ms, failed {bad}")
    return summary


def at_half_rate(name, base, scenario, full_rps):
    """Latency at half the maximum rate: each connection waits between its requests."""
    pace_ms = max(1, round(CONNECTIONS / (full_rps / 2) * 1000))
    result = measure(f"{name} at half rate", base, scenario, pace_ms)
    result["paced_ms"] = pace_ms
    return result


def count_fsyncs(server, base, scenario, requests=300):
    """fsync/fdatasync calls per request, counted by strace on the server process."""
    if shutil.which("strace") is None:
        return None
    trace = tempfile.NamedTemporaryFile(suffix=".txt", delete=False).name
    strace = subprocess.Popen(
        ["strace", "-f", "-c", "-e", "trace=fsync,fdatasync", "-o", trace,
         "-p", str(server.process.pid)],
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    pace_ms = max(1, round(CONNECTIONS / 100 * 1000))  # about 100 requests/s
    result = wrk(base + scenario["path"], scenario, max(2, requests // 100), OFFSETS.take(scenario, 5), pace_ms)
    time.sleep(0.5)
    strace.send_signal(signal.SIGINT)
    strace.wait(timeout=30)
    calls = 0
    for line in Path(trace).read_text().splitlines():
        parts = line.split()
        if parts and parts[-1] in ("fsync", "fdatasync"):
            calls += int(parts[3])
    os.unlink(trace)
    return {"requests": result["requests"], "syncs": calls,
            "per_request": calls / max(1, result["requests"])}


def prepare_product(server):
    """A signed-in customer, a conversation of 50 messages, seeded agencies."""
    OFFSETS.next.clear()  # a fresh database: numbering starts again within the seeded agencies
    session = api(server.base, "POST", "/api/session", {"username": "alice", "password": "demo-password"})
    token = session["token"]
    agency = api(server.base, "GET", "/api/agencies/northwind", token=token)
    created = api(server.base, "POST", "/api/messages/conversations", {
        "context_type": "agency_inquiry", "context_id": agency["id"],
        "initial_message": {"text": "Hello", "local_id": "setup-0"},
    }, token, {"Idempotency-Key": "setup-conversation"})
    conversation = created["conversation"]["id"]
    for n in range(1, 50):
        api(server.base, "POST", "/api/chat", {
            "conversation_id": conversation, "text": f"Message {n} of the page", "local_id": f"setup-{n}",
        }, token)
    # Chats and merged creates write to a conversation of their own: the page keeps its 50 messages.
    other_agency = api(server.base, "GET", "/api/agencies/blue-harbor", token=token)
    chatted = api(server.base, "POST", "/api/messages/conversations", {
        "context_type": "agency_inquiry", "context_id": other_agency["id"],
        "initial_message": {"text": "Hello", "local_id": "setup-chat"},
    }, token, {"Idempotency-Key": "setup-chat-conversation"})["conversation"]["id"]
    subprocess.run([str(BASELINE), "seed-agencies", server.database_url, str(SEEDED_AGENCIES + SPREAD)], check=True)
    # The spread chats' conversations, with agencies past those new conversations take.
    spread = [api(server.base, "POST", "/api/messages/conversations", {
        "context_type": "agency_inquiry", "context_id": f"00000000-0000-4000-8000-{n:012}",
        "initial_message": {"text": "Hello", "local_id": "setup-spread"},
    }, token, {"Idempotency-Key": f"setup-spread-{n}"})["conversation"]["id"]
        for n in range(SEEDED_AGENCIES, SEEDED_AGENCIES + SPREAD)]
    auth = f"Authorization: Bearer {token}"
    chat_new = {"prefix": "chat", "method": "POST", "path": "/api/chat", "auth": auth,
                "body": json.dumps({"conversation_id": chatted, "text": "Bench message {n}",
                                    "local_id": "chat-{n}"})}
    chat_spread = {**chat_new, "prefix": "spread", "conversations": spread,
                   "body": json.dumps({"conversation_id": "{conversation}", "text": "Bench message {n}",
                                       "local_id": "spread-{n}"})}
    chat_duplicate = {**chat_new, "prefix": "dup", "body": json.dumps({"conversation_id": chatted,
                                                       "text": "Sent again and again", "local_id": "dup"})}
    create = {"method": "POST", "path": "/api/messages/conversations", "auth": auth}
    create_new = {**create, "prefix": "new", "key": "unique:new", "body": json.dumps({
        "context_type": "agency_inquiry", "context_id": "{agency}",
        "initial_message": {"text": "New conversation {n}", "local_id": "first-{n}"}})}
    create_replay = {**create, "prefix": "replay", "key": "fixed:replayed-key", "body": json.dumps({
        "context_type": "agency_inquiry", "context_id": agency["id"],
        "initial_message": {"text": "Hello", "local_id": "setup-0"}})}
    create_merge = {**create, "prefix": "merge", "key": "unique:merge", "body": json.dumps({
        "context_type": "agency_inquiry", "context_id": other_agency["id"],
        "initial_message": {"text": "Again {n}", "local_id": "merge-{n}"}})}
    page = {"prefix": "page", "path": f"/conversations/{conversation}", "auth": f"Cookie: session={token}"}
    page_as_chrome_asks = {**page, "accept_encoding": "gzip, deflate, br, zstd"}
    # The first send of each repeated request, so the runs measure only repeats.
    for scenario in (chat_duplicate, create_replay):
        headers = {"Idempotency-Key": scenario["key"][6:]} if scenario.get("key") else {}
        api(server.base, "POST", scenario["path"], json.loads(scenario["body"]), token, headers)
    return {"chat_new": chat_new, "chat_spread": chat_spread, "chat_duplicate": chat_duplicate, "create_new": create_new,
            "create_replay": create_replay, "create_merge": create_merge, "page": page,
            "page_as_chrome_asks": page_as_chrome_asks}


def bench_sqlite(results):
    log("Baselines: a bare axum JSON handler and a bare SQLite WAL insert")
    port = free_port()
    data = tempfile.mkdtemp(prefix="messaging-baseline-")
    baseline = Process([str(BASELINE), "serve", f"127.0.0.1:{port}", f"{data}/baseline.db"], {},
                       f"http://127.0.0.1:{port}/json", SERVER_CPU, scratch=data)
    base = f"http://127.0.0.1:{port}"
    json_handler = {"prefix": "json", "path": "/json"}
    insert = {"prefix": "insert", "method": "POST", "path": "/insert", "body": "x"}
    server = None
    try:
        results["baseline_json"] = measure("bare handler (JSON)", base, json_handler)
        results["baseline_insert"] = measure("bare insert (SQLite WAL, synchronous=FULL)", base, insert)

        log("The product on SQLite (the baselines stay up: the ratio goals pair their runs)")
        server = start_server()
        s = prepare_product(server)
        results["chat_new"] = with_memory(measure("new chat messages", server.base, s["chat_new"], against=[
            ("baseline_json", base, json_handler), ("baseline_insert", base, insert)]), server)
        results["chat_new_half_rate"] = with_memory(at_half_rate(
            "new chat messages", server.base, s["chat_new"], results["chat_new"]["rps"]), server)
        results["chat_duplicate"] = with_memory(measure(
            "duplicate chat sends (replay)", server.base, s["chat_duplicate"],
            against=[("baseline_json", base, json_handler)]), server)
        for key, name in [("create_new", "conversation, new key"), ("create_replay", "conversation, replayed key"),
                          ("create_merge", "conversation, merged by natural key"),
                          ("page", "server-rendered conversation page (50 messages)"),
                          ("page_as_chrome_asks", "the same page, compressed as Chrome asks")]:
            results[key] = with_memory(measure(name, server.base, s[key]), server)
        # Chat (no key step) and a merged create (key step) at a modest rate: does the key
        # add an fsync? The overhead's time is measured in-process by idempotency_overhead().
        results["fsync_chat"] = count_fsyncs(server, server.base, s["chat_new"])
        results["fsync_merge"] = count_fsyncs(server, server.base, s["create_merge"])
        log(f"fsyncs per request: chat {results['fsync_chat']}, merged create {results['fsync_merge']}")
    finally:
        if server is not None:
            server.stop()
        baseline.stop()


def idempotency_overhead(results):
    """The idempotency step's own p50 cost, measured in-process (bench/src/bin/idempotency_overhead.rs)."""
    log("Idempotency overhead: one message stored with and without the idempotency step")
    runs = []
    for _ in range(RUNS):
        data = tempfile.mkdtemp(prefix="messaging-bench-overhead-")
        output = subprocess.run(["taskset", "-c", SERVER_CPU, str(OVERHEAD), f"{data}/overhead.db", "2000"],
                                check=True, capture_output=True, text=True).stdout
        shutil.rmtree(data, ignore_errors=True)
        runs.append(json.loads(output))
    overheads = [r["overhead_us"] for r in runs]
    results["idempotency_overhead"] = {
        "overhead_us": statistics.median(overheads),
        "overhead_us_min": min(overheads),
        "overhead_us_max": max(overheads),
        "without_p50_us": statistics.median(r["without_p50_us"] for r in runs),
        "with_p50_us": statistics.median(r["with_p50_us"] for r in runs),
        "iterations": runs[0]["iterations"],
        "runs": len(runs),
    }
    log(f"idempotency overhead: {results['idempotency_overhead']['overhead_us']:.0f} µs ({overheads})")


def analyzed(database):
    """ANALYZE of a PostgreSQL database, to run once a scenario's warm-up has filled it.

    PostgreSQL plans from statistics that autovacuum takes at most once a minute, and a
    prepared statement keeps the plan it chose while its tables were small: in a store
    filled from empty within seconds (these runs), a read by key may still scan the
    whole table, which a store in use for more than a minute never does."""
    return lambda: subprocess.run(["psql", database, "-qc", "ANALYZE"], check=True)


def bench_postgres(results):
    pg_dir = tempfile.mkdtemp(prefix="messaging-bench-pg-")
    url = subprocess.run([str(REPO / "scripts" / "test-postgres"), "start", pg_dir],
                         check=True, capture_output=True, text=True).stdout.strip()
    try:
        log("The bare insert on PostgreSQL, then the product beside it (one process)")
        database = url.rsplit("/", 1)[0] + "/bench_one"
        subprocess.run(["psql", url, "-qc", "CREATE DATABASE bench_one"], check=True)
        subprocess.run(["psql", url, "-qc", "CREATE DATABASE bench_baseline"], check=True)
        port = free_port()
        baseline = Process([str(BASELINE), "serve-postgres", f"127.0.0.1:{port}",
                            url.rsplit("/", 1)[0] + "/bench_baseline"], {},
                           f"http://127.0.0.1:{port}/json", SERVER_CPU)
        base = f"http://127.0.0.1:{port}"
        insert = {"prefix": "pginsert", "method": "POST", "path": "/insert", "body": "x"}
        server = None
        try:
            results["pg_baseline_insert"] = measure("bare insert (PostgreSQL, synchronous_commit on)", base, insert)
            server = start_server(database)
            s = prepare_product(server)
            settle = analyzed(database)
            results["pg_chat_new"] = with_memory(measure(
                "PostgreSQL: new chat messages", server.base, s["chat_new"],
                against=[("pg_baseline_insert", base, insert)], settle=settle), server)
            results["pg_chat_spread"] = with_memory(measure(
                f"PostgreSQL: new chat messages, {SPREAD} conversations", server.base, s["chat_spread"],
                against=[("pg_baseline_insert", base, insert)], settle=settle), server)
            results["pg_chat_duplicate"] = with_memory(measure(
                "PostgreSQL: duplicate chat sends", server.base, s["chat_duplicate"], settle=settle), server)
            results["pg_create_new"] = with_memory(measure(
                "PostgreSQL: conversation, new key", server.base, s["create_new"], settle=settle), server)
        finally:
            if server is not None:
                server.stop()
            baseline.stop()

        bench_postgres_over_network(results, url)

        log("The product on PostgreSQL (two processes, one database; not pinned: 2 cores)")
        database = url.rsplit("/", 1)[0] + "/bench_two"
        subprocess.run(["psql", url, "-qc", "CREATE DATABASE bench_two"], check=True)
        first = start_server(database, cpu=None)
        second = start_server(database, cpu=None)
        try:
            s = prepare_product(first)

            def both_at_once(seconds):
                """One wrk per process, at the same time; the rate is their sum."""
                procs, outs = [], []
                for server in (first, second):
                    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
                    outs.append(out)
                    env = {**os.environ, "BENCH_METHOD": "POST", "BENCH_PATH": "/api/chat",
                           "BENCH_BODY": s["chat_new"]["body"], "BENCH_AUTH": s["chat_new"]["auth"],
                           "BENCH_OFFSET": str(OFFSETS.take(s["chat_new"], seconds)), "BENCH_OUT": out}
                    procs.append(subprocess.Popen(
                        ["wrk", "-t1", f"-c{CONNECTIONS // 2}", f"-d{seconds}s", "-s", str(LUA),
                         server.base + "/api/chat"], env=env, stdout=subprocess.DEVNULL))
                for proc in procs:
                    proc.wait()
                parts = [json.loads(Path(out).read_text()) for out in outs]
                for out in outs:
                    os.unlink(out)
                return sum(p["requests"] / (p["duration_us"] / 1e6) for p in parts)

            both_at_once(WARMUP_SECONDS)
            analyzed(database)()
            runs = [both_at_once(SECONDS) for _ in range(RUNS)]
            results["pg_two_processes_chat_new"] = {
                "name": "PostgreSQL, two processes: new chat messages",
                "rps": statistics.median(runs), "rps_min": min(runs), "rps_max": max(runs), "runs": len(runs),
            }
            log(f"two processes: {statistics.median(runs):.0f} req/s")
        finally:
            first.stop()
            second.stop()
    finally:
        subprocess.run([str(REPO / "scripts" / "test-postgres"), "stop", pg_dir], check=False)
        shutil.rmtree(pg_dir, ignore_errors=True)


def bench_postgres_over_network(results, url):
    """The bare insert and the product as above, each reaching PostgreSQL through a proxy
    that delays every byte NETWORK_DELAY_MS each way, as PostgreSQL on another host: the
    same-host runs above hide what each round trip costs."""
    log(f"The bare insert and the product with PostgreSQL {NETWORK_DELAY_MS} ms away each way (a proxy)")
    server_root, pg_port = url.rsplit("/", 1)[0].rsplit(":", 1)
    proxy_port = free_port()
    proxy = Process([str(BASELINE), "delay-proxy", f"127.0.0.1:{proxy_port}", f"127.0.0.1:{pg_port}",
                     str(NETWORK_DELAY_MS)], {}, f"tcp://127.0.0.1:{proxy_port}")
    far = f"{server_root}:{proxy_port}"
    for name in ("bench_far", "bench_far_baseline"):
        subprocess.run(["psql", url, "-qc", f"CREATE DATABASE {name}"], check=True)
    port = free_port()
    baseline = server = None
    try:
        baseline = Process([str(BASELINE), "serve-postgres", f"127.0.0.1:{port}", f"{far}/bench_far_baseline"],
                           {}, f"http://127.0.0.1:{port}/json", SERVER_CPU)
        base = f"http://127.0.0.1:{port}"
        insert = {"prefix": "farinsert", "method": "POST", "path": "/insert", "body": "x"}
        results["far_baseline_insert"] = measure(
            f"bare insert (PostgreSQL {NETWORK_DELAY_MS} ms away)", base, insert)
        results["far_delay_ms"] = NETWORK_DELAY_MS
        results["pg_round_trip_ms"] = round_trip_ms(url)
        results["far_round_trip_ms"] = round_trip_ms(f"{far}/bench_far_baseline")
        log(f"a round trip to PostgreSQL through the proxy: {results['far_round_trip_ms']:.1f} ms (median)")
        server = start_server(f"{far}/bench_far")
        server.database_url = f"{server_root}:{pg_port}/bench_far"  # the setup's seeding goes direct
        s = prepare_product(server)
        settle = analyzed(f"{server_root}:{pg_port}/bench_far")
        results["far_chat_new"] = measure(
            f"PostgreSQL {NETWORK_DELAY_MS} ms away: new chat messages", server.base, s["chat_new"],
            against=[("far_baseline_insert", base, insert)], settle=settle)
        results["far_chat_spread"] = measure(
            f"PostgreSQL {NETWORK_DELAY_MS} ms away: new chat messages, {SPREAD} conversations", server.base,
            s["chat_spread"], against=[("far_baseline_insert", base, insert)], settle=settle)
    finally:
        for process in (server, baseline, proxy):
            if process is not None:
                process.stop()


def round_trip_ms(database_url, samples=20):
    """The median time `SELECT 1` takes on one open connection to `database_url`, as
    psql's `\\timing` measures it: a round trip, with any proxy's delays in it."""
    args = ["psql", "-X", "-q", "-A", "-t", database_url, "-c", "\\timing on"]
    output = subprocess.run(args + ["-c", "SELECT 1"] * samples,
                            check=True, capture_output=True, text=True).stdout
    times = [float(line.split()[1]) for line in output.splitlines() if line.startswith("Time:")]
    return statistics.median(times)


def time_to_interactive(results):
    log("Time to interactive in headless Chromium")
    server = start_server(cpu=None)
    try:
        output = subprocess.run(
            ["node", str(REPO / "end2end" / "support" / "tti.mjs"), server.base],
            check=True, capture_output=True, text=True, cwd=REPO / "end2end").stdout
        results["time_to_interactive"] = json.loads(output)
    finally:
        server.stop()


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown")
    return {"cpu": cpu, "cores": os.cpu_count(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "runs": RUNS, "seconds_per_run": SECONDS, "connections": CONNECTIONS}


def main():
    results = {"machine": machine()}
    bench_sqlite(results)
    idempotency_overhead(results)
    bench_postgres(results)
    # The site's bundle per kind of page (`site::Bundle`), as scripts/build-site wrote them.
    results["bundles"] = {
        page: json.loads((SITE / f"{name}.bundle-size.json").read_text())
        for page, name in (("agency", "messaging"), ("home", "messaging-home"), ("conversation", "messaging-conversation"))
    }
    results["example_bundles"] = {
        example: json.loads(next((REPO / "target" / "examples" / example).glob("*.bundle-size.json")).read_text())["total"]
        for example in ("hydrate", "csr", "csr-button")
    }
    time_to_interactive(results)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    subprocess.run([sys.executable, str(REPO / "bench" / "report.py")], check=True)


if __name__ == "__main__":
    main()
