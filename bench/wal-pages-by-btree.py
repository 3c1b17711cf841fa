#!/usr/bin/env python3
"""WAL pages per commit, by B-tree, for the W3 shape on the server's schema.

Replays what a send writes (the statements of the SQLite send path) with
64 sends to 16 direct conversations per commit, then reads the page number
of every frame in the WAL and names its B-tree through SQLite's dbstat.
Used to choose schema changes (bench/results/2026-11-30-series-201fa02.md).

    python3 bench/wal-pages-by-btree.py
"""
import collections
import json
import os
try:
    # The schema's FTS5 options (contentless_delete) need SQLite >= 3.43:
    # pip install pysqlite3-binary where the system's is older.
    import pysqlite3 as sqlite3
except ImportError:
    import sqlite3
import struct
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS = os.path.join(HERE, "..", "crates", "parley-store-sqlite", "migrations")
BATCHES, WARMUP, PER_COMMIT, CONVERSATIONS = 300, 500, 64, 16

path = os.path.join(tempfile.mkdtemp(prefix="wal-pages-"), "t.db")
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("PRAGMA wal_autocheckpoint=0")
for name in sorted(os.listdir(MIGRATIONS)):
    db.executescript(open(os.path.join(MIGRATIONS, name)).read())
convs = [str(uuid.uuid4()) for _ in range(CONVERSATIONS)]
users = [str(uuid.uuid4()) for _ in range(2 * CONVERSATIONS)]
db.execute("BEGIN")
for i, c in enumerate(convs):
    db.execute(
        "INSERT INTO conversations (id, kind, created_at, last_seq, last_activity_at, member_count)"
        " VALUES (?, 'direct', 0, 0, 0, 2)", (c,))
    for u in users[2 * i:2 * i + 2]:
        db.execute(
            "INSERT INTO members (conversation_id, user_id, role, joined_seq, joined_at)"
            " VALUES (?, ?, 'member', 1, 0)", (c, u))
db.execute("COMMIT")
seqs = [0] * CONVERSATIONS
n = 0


def commits(k):
    global n
    for _ in range(k):
        db.execute("BEGIN IMMEDIATE")
        for j in range(PER_COMMIT):
            i = j % CONVERSATIONS
            conv, sender = convs[i], users[2 * i]
            seqs[i] += 1
            seq = seqs[i]
            mid = "%012x-7000-8000-0000-000000000000" % (10**6 + n)  # time-ordered, like UUIDv7
            client_id = str(uuid.uuid4())  # random, as clients make them
            text = "x" * 64
            db.execute(
                "INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, kind, text,"
                " attachments, reply_to, mentions, created_at)"
                " VALUES (?, ?, ?, ?, ?, 'text', ?, '[]', NULL, '[]', 0)",
                (mid, conv, seq, sender, client_id, text))
            # The idempotency key (src/client_keys.rs): a 64-bit hash, as
            # random as the client id it comes from.
            db.execute("INSERT INTO message_keys (key, message_rowid) VALUES (?, last_insert_rowid())",
                       (int.from_bytes(uuid.UUID(client_id).bytes[:8], "big", signed=True),))
            db.execute(
                "UPDATE conversations SET last_seq = last_seq + 1, last_message_seq = last_seq + 1,"
                " last_activity_at = ? WHERE id = ?", (n, conv))
            body = json.dumps({"conversation_id": conv, "seq": seq, "type": "message.created",
                               "actor_id": sender, "at": "2026-11-30T00:00:00.000Z",
                               "data": {"message": {"id": mid, "conversation_id": conv, "seq": seq,
                                                    "sender_id": sender, "client_id": client_id,
                                                    "kind": "text", "text": text}}})
            db.execute(
                "INSERT INTO message_search (rowid, doc)"
                " SELECT rowid, ? FROM messages WHERE conversation_id = ? AND seq = ?",
                (text, conv, seq))
            db.execute("INSERT INTO events (conversation_id, seq, type, body) VALUES (?, ?, ?, ?)",
                       (conv, seq, "message.created", body))
            db.execute(
                "UPDATE members SET read_seq = ?, delivered_seq = ? WHERE conversation_id = ? AND user_id = ?",
                (seq, seq, conv, sender))
            n += 1
        db.execute("COMMIT")


commits(WARMUP)
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
started = time.time()
commits(BATCHES)
elapsed = time.time() - started
try:
    btree = {page: name for name, page in db.execute("SELECT name, pageno FROM dbstat")}
except sqlite3.OperationalError:
    # Built without SQLITE_ENABLE_DBSTAT_VTAB (pysqlite3-binary): ask the
    # sqlite3 command-line shell, which has it.
    import subprocess
    out = subprocess.run(["sqlite3", "-separator", "|", path, "SELECT name, pageno FROM dbstat"],
                         capture_output=True, text=True).stdout
    btree = {int(page): name for name, page in
             (line.rsplit("|", 1) for line in out.splitlines() if "|" in line)}
pages = collections.Counter()
with open(path + "-wal", "rb") as wal:
    wal.read(32)
    while len(header := wal.read(24)) == 24:
        pages[btree.get(struct.unpack(">I", header[:4])[0], "?")] += 1
        wal.read(4096)
print(f"{sum(pages.values()) / BATCHES:.1f} WAL pages per commit of {PER_COMMIT} sends "
      f"({PER_COMMIT * BATCHES / elapsed:.0f} sends/s in Python)")
for name, count in pages.most_common():
    print(f"  {count / BATCHES:6.1f}  {name}")
