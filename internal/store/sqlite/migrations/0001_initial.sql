-- Accounts, users, tokens, token keys, the audit log and server metadata.
-- Times are Unix microseconds (UTC). Every table that holds an account's data references
-- accounts(id) ON DELETE CASCADE, so deleting an account deletes everything it owns.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;

-- One row; bumped by every change that can invalidate a token (see store.TokenStore).
CREATE TABLE revocation_epoch (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	epoch INTEGER NOT NULL
);
INSERT INTO revocation_epoch (id, epoch) VALUES (1, 0);

CREATE TABLE accounts (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	data_key   BLOB NOT NULL, -- wrapped under the master key
	created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	email         TEXT NOT NULL UNIQUE,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL, -- argon2id PHC string
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX users_account ON users (account_id);

CREATE TABLE token_keys (
	id          TEXT PRIMARY KEY,
	account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	version     INTEGER NOT NULL,
	wrapped_key BLOB NOT NULL, -- wrapped under the account's data key
	created_at  INTEGER NOT NULL,
	UNIQUE (account_id, version)
) WITHOUT ROWID;

CREATE TABLE tokens (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind         TEXT NOT NULL,
	name         TEXT NOT NULL,
	scopes       TEXT NOT NULL, -- JSON array
	sites        TEXT NOT NULL, -- JSON array
	secret_salt  BLOB NOT NULL,
	secret_hash  BLOB NOT NULL, -- SHA-256(salt || secret); never the secret
	key_id       TEXT NOT NULL REFERENCES token_keys (id) ON DELETE CASCADE,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	last_used_at INTEGER,
	revoked_at   INTEGER
) WITHOUT ROWID;
CREATE INDEX tokens_account_user ON tokens (account_id, user_id);
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_key ON tokens (key_id);
CREATE INDEX tokens_expires ON tokens (expires_at);

-- account_id is NULL for requests nobody was authenticated for.
CREATE TABLE audit_log (
	seq        INTEGER PRIMARY KEY,
	time       INTEGER NOT NULL,
	request_id TEXT NOT NULL,
	account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL,
	token_id   TEXT NOT NULL,
	method     TEXT NOT NULL,
	route      TEXT NOT NULL,
	status     INTEGER NOT NULL,
	latency_us INTEGER NOT NULL,
	source_ip  TEXT NOT NULL,
	error_code TEXT NOT NULL
);
CREATE INDEX audit_account_time ON audit_log (account_id, time, seq);
CREATE INDEX audit_time ON audit_log (time);
