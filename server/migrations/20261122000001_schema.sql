-- One schema for SQLite and PostgreSQL: ids are UUID text, times are Unix microseconds
-- (BIGINT), so the same statements and the same constraints hold on both stores.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE agencies (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);

CREATE TABLE agency_members (
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    user_id   TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (agency_id, user_id)
);
CREATE INDEX agency_members_by_user ON agency_members (user_id);

-- Only the SHA-256 of a session token is kept, so a leaked table signs no one in.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    context_type    TEXT NOT NULL,
    context_id      TEXT NOT NULL,
    created_by      TEXT NOT NULL REFERENCES users (id),
    agency_id       TEXT NOT NULL REFERENCES agencies (id),
    created_at      BIGINT NOT NULL,
    last_message_at BIGINT NOT NULL,
    -- The natural key: one conversation per (context, creator), whatever the keys.
    CONSTRAINT conversations_natural_key UNIQUE (context_type, context_id, created_by)
);
CREATE INDEX conversations_by_creator ON conversations (created_by, last_message_at);
CREATE INDEX conversations_by_agency ON conversations (agency_id, last_message_at);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    local_id        TEXT NOT NULL,
    sender_id       TEXT NOT NULL REFERENCES users (id),
    body            TEXT NOT NULL,
    user_agent      TEXT,
    device_kind     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    -- A retried message can never be stored twice.
    CONSTRAINT messages_local_id UNIQUE (conversation_id, local_id)
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, created_at, id);

-- One row per (user, key), written in the same transaction as the rows it produced,
-- so a row here always has its complete response.
CREATE TABLE idempotency_keys (
    user_id         TEXT NOT NULL REFERENCES users (id),
    idempotency_key TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    response_status BIGINT NOT NULL,
    response_body   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
