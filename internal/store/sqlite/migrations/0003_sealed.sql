-- Customer data sealed at rest, token keys per user, two-factor logins, token lineage.
--
-- The server seals every identifying value under the account's data key before it reaches the
-- database, and finds values by keyed blind indexes (*_index, channel_tag): this schema holds
-- opaque bytes where 0001 and 0002 held names, e-mails, serials, network settings, readings and
-- source addresses in clear. The tables of 0001 and 0002 are replaced; a database that already
-- holds accounts is upgraded by smartx in Go before this runs (sqlite.Open), since sealing needs
-- the master key.

DROP TABLE device_losses;
DROP TABLE segments;
DROP TABLE data_files;
DROP TABLE device_keys;
DROP TABLE devices;
DROP TABLE sites;
DROP TABLE audit_log;
DROP TABLE tokens;
DROP TABLE token_keys;
DROP TABLE users;
DROP TABLE accounts;

CREATE TABLE accounts (
	id          TEXT PRIMARY KEY,
	sealed_name BLOB NOT NULL, -- sealed under the account's data key
	data_key    BLOB NOT NULL, -- wrapped under the master key
	created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
	id              TEXT PRIMARY KEY,
	account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	email_index     BLOB NOT NULL UNIQUE, -- keyed blind index of the lower-case e-mail: the login
	sealed_email    BLOB NOT NULL,
	role            TEXT NOT NULL,
	password_hash   TEXT NOT NULL, -- argon2id PHC string
	disabled_at     INTEGER,
	totp_secret     BLOB,          -- sealed; NULL without TOTP
	totp_enabled_at INTEGER,       -- NULL while enrolment is pending
	totp_last_step  INTEGER NOT NULL DEFAULT 0,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX users_account ON users (account_id);

-- One-time recovery codes of a user's TOTP, as keyed hashes.
CREATE TABLE recovery_codes (
	user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	code_hash BLOB NOT NULL,
	used_at   INTEGER,
	PRIMARY KEY (user_id, code_hash)
) WITHOUT ROWID;

-- Password logins waiting for their second factor.
CREATE TABLE login_challenges (
	id          TEXT PRIMARY KEY,
	secret_hash BLOB NOT NULL,
	account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	method      TEXT NOT NULL,
	code_hash   BLOB,
	attempts    INTEGER NOT NULL DEFAULT 0,
	sends       INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	sent_at     INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_challenges_user ON login_challenges (user_id);
CREATE INDEX login_challenges_expires ON login_challenges (expires_at);

CREATE TABLE token_keys (
	id          TEXT PRIMARY KEY,
	account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	version     INTEGER NOT NULL,
	wrapped_key BLOB NOT NULL, -- wrapped under the account's data key, bound to the user
	created_at  INTEGER NOT NULL,
	UNIQUE (user_id, version)
) WITHOUT ROWID;
CREATE INDEX token_keys_account ON token_keys (account_id);

-- parent_id is the token that minted this one ('' for a root token); no foreign key, since a
-- parent's record may be purged first (its children expired no later).
CREATE TABLE tokens (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	parent_id    TEXT NOT NULL,
	kind         TEXT NOT NULL,
	sealed_name  BLOB NOT NULL,
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
CREATE INDEX tokens_parent ON tokens (parent_id);
CREATE INDEX tokens_key ON tokens (key_id);
CREATE INDEX tokens_expires ON tokens (expires_at);

-- account_id is NULL for requests nobody was authenticated for; count > 1 folds repeated
-- unauthenticated failures of one address into one row.
CREATE TABLE audit_log (
	seq           INTEGER PRIMARY KEY,
	time          INTEGER NOT NULL,
	request_id    TEXT NOT NULL,
	account_id    TEXT REFERENCES accounts (id) ON DELETE CASCADE,
	user_id       TEXT NOT NULL,
	token_id      TEXT NOT NULL,
	device_id     TEXT NOT NULL,
	method        TEXT NOT NULL,
	route         TEXT NOT NULL,
	status        INTEGER NOT NULL,
	latency_us    INTEGER NOT NULL,
	sealed_source BLOB NOT NULL,
	error_code    TEXT NOT NULL,
	count         INTEGER NOT NULL
);
CREATE INDEX audit_account_time ON audit_log (account_id, time, seq);
CREATE INDEX audit_time ON audit_log (time);

CREATE TABLE sites (
	id         TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	name_index BLOB NOT NULL,
	sealed     BLOB NOT NULL, -- name, address and time zone
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (account_id, name_index)
) WITHOUT ROWID;

-- The stats columns are running totals StoreFile keeps current, so a status reads one row.
-- max_span_ms is the longest segment of the device (t_max - t_min): it bounds the range scans
-- of segments from below.
CREATE TABLE devices (
	id                 TEXT PRIMARY KEY,
	account_id         TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	site_id            TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	serial_index       BLOB NOT NULL,
	sealed             BLOB NOT NULL, -- serial and network settings
	credential_salt    BLOB NOT NULL,
	credential_hash    BLOB NOT NULL, -- SHA-256(salt || credential); never the credential
	created_at         INTEGER NOT NULL,
	updated_at         INTEGER NOT NULL,
	decommissioned_at  INTEGER,
	last_contact_at    INTEGER,
	last_upload_at     INTEGER,
	last_reject_at     INTEGER,
	last_reject_code   TEXT NOT NULL DEFAULT '',
	last_reject_reason TEXT NOT NULL DEFAULT '',
	files              INTEGER NOT NULL DEFAULT 0,
	readings           INTEGER NOT NULL DEFAULT 0,
	last_sequence      INTEGER,
	first_reading      INTEGER,
	last_reading       INTEGER,
	max_span_ms        INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX devices_account ON devices (account_id, created_at);
CREATE INDEX devices_site ON devices (site_id);
-- A serial names one device in service per account; decommissioned devices keep theirs, so the
-- same hardware can be registered again.
CREATE UNIQUE INDEX devices_serial_in_service ON devices (account_id, serial_index) WHERE decommissioned_at IS NULL;

CREATE TABLE device_keys (
	device_id  TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	key_id     INTEGER NOT NULL,
	sealed_key BLOB NOT NULL, -- sealed under the account's data key, bound to device and key id
	created_at INTEGER NOT NULL,
	PRIMARY KEY (device_id, key_id)
) WITHOUT ROWID;

CREATE TABLE data_files (
	device_id     TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	sequence      INTEGER NOT NULL,
	sha256        BLOB NOT NULL,
	size          INTEGER NOT NULL,
	key_id        INTEGER NOT NULL,
	readings      INTEGER NOT NULL,
	first_reading INTEGER,
	last_reading  INTEGER,
	interval_ms   INTEGER NOT NULL,
	gaps          BLOB, -- pairs of varints (from, to - from), NULL for none
	created_at    INTEGER NOT NULL,
	received_at   INTEGER NOT NULL,
	PRIMARY KEY (device_id, sequence)
) WITHOUT ROWID;

-- One row per channel of each data file (per part of it, for files of many readings): the
-- channel's name, unit, resolution and readings, sealed. The primary key is the range scan: a
-- device's segments by start time.
CREATE TABLE segments (
	device_id     TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	t_min         INTEGER NOT NULL,
	file_sequence INTEGER NOT NULL,
	channel_index INTEGER NOT NULL,
	part          INTEGER NOT NULL,
	t_max         INTEGER NOT NULL,
	count         INTEGER NOT NULL,
	channel_tag   BLOB NOT NULL, -- keyed blind index of the channel's name
	sealed        BLOB NOT NULL,
	PRIMARY KEY (device_id, t_min, file_sequence, channel_index, part)
) WITHOUT ROWID;

CREATE TABLE device_losses (
	device_id      TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	first_sequence INTEGER NOT NULL,
	last_sequence  INTEGER NOT NULL,
	from_time      INTEGER NOT NULL,
	to_time        INTEGER NOT NULL,
	files          INTEGER NOT NULL,
	reason         TEXT NOT NULL,
	reported_at    INTEGER NOT NULL,
	PRIMARY KEY (device_id, first_sequence)
) WITHOUT ROWID;
