#!/usr/bin/env python3
"""The server's resident memory over a long run with many conversations and open streams:
does it stay flat? Writes bench/memory.json and bench/MEMORY.md.

Called by scripts/memory (which builds the release server first). The release server on
SQLite gets USERS seeded people, each with CONVERSATIONS_PER_USER conversations (one per
seeded agency) and STREAMS_PER_USER live streams open on them; then new messages go round
all conversations at RATE a second for MINUTES, every stream reading what it is sent. The
server's VmRSS is sampled every SAMPLE_SECONDS. Standard library only.
"""

import http.client
import json
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from run import BASELINE, OUT, api, log, rss_mb, start_server

MINUTES = float(os.environ.get("MEMORY_MINUTES", "10"))
USERS = int(os.environ.get("MEMORY_USERS", "50"))
CONVERSATIONS_PER_USER = int(os.environ.get("MEMORY_CONVERSATIONS_PER_USER", "60"))
STREAMS_PER_USER = 6  # the server keeps at most 8 per user
RATE = int(os.environ.get("MEMORY_RATE", "100"))
SENDERS = 4
SAMPLE_SECONDS = 10


def sign_in_everyone(base):
    return [api(base, "POST", "/api/session", {"username": f"bench-user-{n}", "password": "demo-password"})["token"]
            for n in range(USERS)]


def start_conversations(base, tokens):
    """Each user contacts CONVERSATIONS_PER_USER seeded agencies: (token, conversation id) pairs."""
    conversations = []
    for user, token in enumerate(tokens):
        for n in range(CONVERSATIONS_PER_USER):
            agency = f"00000000-0000-4000-8000-{n:012}"
            created = api(base, "POST", "/api/messages/conversations", {
                "context_type": "agency_inquiry", "context_id": agency,
                "initial_message": {"text": "Hello", "local_id": f"first-{user}-{n}"},
            }, token, {"Idempotency-Key": f"memory-{user}-{n}"})
            conversations.append((token, created["conversation"]["id"]))
    return conversations


class Streams:
    """Live streams held open by threads that read every event they are sent."""

    def __init__(self, base, opened):
        self.address = urlparse(base)
        self.events = 0
        self.ended = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        for token, conversation in opened:
            threading.Thread(target=self.follow, args=(token, conversation), daemon=True).start()

    def follow(self, token, conversation):
        connection = http.client.HTTPConnection(self.address.hostname, self.address.port, timeout=120)
        connection.request("GET", f"/api/messages/conversations/{conversation}/stream",
                           headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        while not self.stop.is_set():
            line = response.readline()
            if not line:
                with self.lock:
                    self.ended += 1
                return
            if line.startswith(b"event: message"):
                with self.lock:
                    self.events += 1


def send_round_robin(base, conversations, stop, sent, failures, offset):
    """New messages round all conversations at RATE / SENDERS a second from this thread."""
    address = urlparse(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    interval = SENDERS / RATE
    n = offset
    next_at = time.monotonic()
    while not stop.is_set():
        token, conversation = conversations[n % len(conversations)]
        body = json.dumps({"conversation_id": conversation, "text": f"Message {n}", "local_id": f"m-{n}"})
        try:
            connection.request("POST", "/api/chat", body=body, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status == 202:
                sent[offset] += 1
            else:
                failures[offset] += 1
        except (OSError, http.client.HTTPException):
            failures[offset] += 1
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        n += SENDERS
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))


def main():
    server = start_server(cpu=None)
    try:
        log(f"Seeding {USERS} people and {CONVERSATIONS_PER_USER} agencies")
        subprocess.run([str(BASELINE), "seed-users", server.database_url, str(USERS)], check=True)
        subprocess.run([str(BASELINE), "seed-agencies", server.database_url, str(CONVERSATIONS_PER_USER)],
                       check=True)
        tokens = sign_in_everyone(server.base)
        conversations = start_conversations(server.base, tokens)
        opened = [pair for user in range(USERS)
                  for pair in conversations[user * CONVERSATIONS_PER_USER:][:STREAMS_PER_USER]]
        log(f"{len(conversations)} conversations; opening {len(opened)} live streams")
        streams = Streams(server.base, opened)
        stop = threading.Event()
        sent, failures = [0] * SENDERS, [0] * SENDERS
        senders = [threading.Thread(target=send_round_robin,
                                    args=(server.base, conversations, stop, sent, failures, offset), daemon=True)
                   for offset in range(SENDERS)]
        for sender in senders:
            sender.start()
        samples = []
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < MINUTES * 60:
            samples.append({"seconds": round(elapsed), "rss_mb": rss_mb(server),
                            "sent": sum(sent), "streamed": streams.events})
            log(f"{samples[-1]['seconds']:>4} s: {samples[-1]['rss_mb']} MB, {sum(sent)} sent, "
                f"{streams.events} streamed, {sum(failures)} failed, {streams.ended} streams ended")
            time.sleep(SAMPLE_SECONDS)
        stop.set()
        streams.stop.set()
        for sender in senders:
            sender.join(timeout=35)
        report(samples, len(conversations), len(opened), sum(sent), sum(failures), streams)
    finally:
        server.stop()


def report(samples, conversations, streams_opened, sent, failures, streams):
    def minute(m):
        return [s["rss_mb"] for s in samples if m * 60 <= s["seconds"] < (m + 1) * 60]

    last_minute = int(MINUTES) - 1
    early, late = minute(min(2, last_minute)), minute(last_minute)
    result = {
        "minutes": MINUTES, "conversations": conversations, "streams": streams_opened,
        "rate_per_second": RATE, "sent": sent, "failed": failures, "streamed": streams.events,
        "streams_ended_early": streams.ended,
        "rss_minute_2_mb": statistics.median(early), "rss_last_minute_mb": statistics.median(late),
        "rss_max_mb": max(s["rss_mb"] for s in samples), "samples": samples,
    }
    (OUT / "memory.json").write_text(json.dumps(result, indent=2) + "\n")
    growth = result["rss_last_minute_mb"] - result["rss_minute_2_mb"]
    lines = [
        "# Memory over a long run",
        "",
        f"`scripts/memory`: the release server on SQLite, {conversations:,} conversations of {USERS} people,",
        f"{streams_opened} live streams open throughout, {RATE} new messages a second round all conversations,",
        f"for {MINUTES:g} minutes; the server's resident memory (VmRSS) every {SAMPLE_SECONDS} s.",
        "",
        "| | |",
        "| --- | --- |",
        f"| messages sent (202) | {sent:,} ({failures} failed) |",
        f"| messages the streams carried | {streams.events:,} |",
        f"| streams that ended early | {streams.ended} |",
        f"| RSS, median of minute 2 | {result['rss_minute_2_mb']:.1f} MB |",
        f"| RSS, median of the last minute | {result['rss_last_minute_mb']:.1f} MB |",
        f"| RSS, highest sample | {result['rss_max_mb']:.1f} MB |",
        f"| growth from minute 2 to the last | {growth:+.1f} MB |",
        "",
        "Goals: no growth between minute 2 and the last beyond noise (±2 MB); at most 64 MB.",
        "",
        "| second | RSS MB | sent | streamed |",
        "| --- | --- | --- | --- |",
    ] + [f"| {s['seconds']} | {s['rss_mb']} | {s['sent']:,} | {s['streamed']:,} |" for s in samples[::6]] + [""]
    (OUT / "MEMORY.md").write_text("\n".join(lines))
    log(f"Wrote bench/MEMORY.md: {result['rss_minute_2_mb']} MB at minute 2, "
        f"{result['rss_last_minute_mb']} MB in the last minute")


if __name__ == "__main__":
    main()
