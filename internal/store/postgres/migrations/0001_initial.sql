-- The whole schema of the PostgreSQL store, as the SQLite store's 0003_sealed.sql leaves it:
-- customer data sealed at rest, token keys per user, two-factor logins, token lineage.
--
-- The server seals every identifying value under the account's data key before it reaches the
-- database and finds values by keyed blind indexes (*_index, channel_tag): bytea columns here
-- hold opaque bytes. Times are timestamptz (microseconds, UTC), except the times of readings,
-- which are Unix milliseconds as in the data files. Every table that holds an account's data
-- reaches accounts(id) through ON DELETE CASCADE foreign keys, so deleting an account deletes
-- everything it owns in one statement.

CREATE TABLE meta (
	key   text PRIMARY KEY,
	value bytea NOT NULL
);

-- One row; bumped by every change that can invalidate a token (see store.TokenStore).
CREATE TABLE revocation_epoch (
	id    int PRIMARY KEY CHECK (id = 1),
	epoch bigint NOT NULL
);
INSERT INTO revocation_epoch (id, epoch) VALUES (1, 0);

CREATE TABLE accounts (
	id          text PRIMARY KEY,
	sealed_name bytea NOT NULL,       -- sealed under the account's data key
	data_key    bytea NOT NULL,       -- wrapped under the master key
	created_at  timestamptz NOT NULL
);

CREATE TABLE users (
	id              text PRIMARY KEY,
	account_id      text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	email_index     bytea NOT NULL UNIQUE, -- keyed blind index of the lower-case e-mail: the login
	sealed_email    bytea NOT NULL,
	role            text NOT NULL,
	password_hash   text NOT NULL,         -- argon2id PHC string
	disabled_at     timestamptz,
	totp_secret     bytea,                 -- sealed; NULL without TOTP
	totp_enabled_at timestamptz,           -- NULL while enrolment is pending
	totp_last_step  bigint NOT NULL DEFAULT 0,
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL
);
CREATE INDEX users_account ON users (account_id, created_at);

-- One-time recovery codes of a user's TOTP, as keyed hashes.
CREATE TABLE recovery_codes (
	user_id   text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	code_hash bytea NOT NULL,
	used_at   timestamptz,
	PRIMARY KEY (user_id, code_hash)
);

-- Password logins waiting for their second factor.
CREATE TABLE login_challenges (
	id          text PRIMARY KEY,
	secret_hash bytea NOT NULL,
	account_id  text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	method      text NOT NULL,
	code_hash   bytea,
	attempts    int NOT NULL DEFAULT 0,
	sends       int NOT NULL DEFAULT 0,
	created_at  timestamptz NOT NULL,
	sent_at     timestamptz NOT NULL,
	expires_at  timestamptz NOT NULL
);
CREATE INDEX login_challenges_account ON login_challenges (account_id);
CREATE INDEX login_challenges_user ON login_challenges (user_id);
CREATE INDEX login_challenges_expires ON login_challenges (expires_at);

CREATE TABLE token_keys (
	id          text PRIMARY KEY,
	account_id  text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	version     int NOT NULL,
	wrapped_key bytea NOT NULL, -- wrapped under the account's data key, bound to the user
	created_at  timestamptz NOT NULL,
	UNIQUE (user_id, version)
);
CREATE INDEX token_keys_account ON token_keys (account_id);

-- parent_id is the token that minted this one ('' for a root token); no foreign key, since a
-- parent's record may be purged first (its children expired no later).
CREATE TABLE tokens (
	id           text PRIMARY KEY,
	account_id   text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	parent_id    text NOT NULL,
	kind         text NOT NULL,
	sealed_name  bytea NOT NULL,
	scopes       text[] NOT NULL,
	sites        text[] NOT NULL,
	secret_salt  bytea NOT NULL,
	secret_hash  bytea NOT NULL, -- SHA-256(salt || secret); never the secret
	key_id       text NOT NULL REFERENCES token_keys (id) ON DELETE CASCADE,
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL,
	last_used_at timestamptz,
	revoked_at   timestamptz
);
CREATE INDEX tokens_account_user ON tokens (account_id, user_id);
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_parent ON tokens (parent_id) WHERE parent_id <> '';
CREATE INDEX tokens_key ON tokens (key_id);
CREATE INDEX tokens_expires ON tokens (expires_at);
CREATE INDEX tokens_revoked ON tokens (revoked_at) WHERE revoked_at IS NOT NULL;

-- account_id is NULL for requests nobody was authenticated for; count > 1 folds repeated
-- unauthenticated failures of one address into one row.
CREATE TABLE audit_log (
	seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time          timestamptz NOT NULL,
	request_id    text NOT NULL,
	account_id    text REFERENCES accounts (id) ON DELETE CASCADE,
	user_id       text NOT NULL,
	token_id      text NOT NULL,
	device_id     text NOT NULL,
	method        text NOT NULL,
	route         text NOT NULL,
	status        int NOT NULL,
	latency_us    bigint NOT NULL,
	sealed_source bytea NOT NULL,
	error_code    text NOT NULL,
	count         int NOT NULL
);
CREATE INDEX audit_account_time ON audit_log (account_id, time, seq);
CREATE INDEX audit_time ON audit_log (time);

CREATE TABLE sites (
	id         text PRIMARY KEY,
	account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	name_index bytea NOT NULL,
	sealed     bytea NOT NULL, -- name, address and time zone
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	UNIQUE (account_id, name_index)
);

-- The stats columns are running totals StoreFile keeps current, so a status reads one row.
-- max_span_ms is the longest segment of the device (t_max - t_min): it bounds the range scans
-- of segments from below.
CREATE TABLE devices (
	id                 text PRIMARY KEY,
	account_id         text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	site_id            text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	serial_index       bytea NOT NULL,
	sealed             bytea NOT NULL, -- serial and network settings
	credential_salt    bytea NOT NULL,
	credential_hash    bytea NOT NULL, -- SHA-256(salt || credential); never the credential
	created_at         timestamptz NOT NULL,
	updated_at         timestamptz NOT NULL,
	decommissioned_at  timestamptz,
	last_contact_at    timestamptz,
	last_upload_at     timestamptz,
	last_reject_at     timestamptz,
	last_reject_code   text NOT NULL DEFAULT '',
	last_reject_reason text NOT NULL DEFAULT '',
	files              bigint NOT NULL DEFAULT 0,
	readings           bigint NOT NULL DEFAULT 0,
	last_sequence      bigint,
	first_reading      bigint,
	last_reading       bigint,
	max_span_ms        bigint NOT NULL DEFAULT 0
);
CREATE INDEX devices_account ON devices (account_id, created_at);
CREATE INDEX devices_site ON devices (site_id);
-- A serial names one device in service per account; decommissioned devices keep theirs, so the
-- same hardware can be registered again.
CREATE UNIQUE INDEX devices_serial_in_service ON devices (account_id, serial_index) WHERE decommissioned_at IS NULL;

CREATE TABLE device_keys (
	device_id  text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	key_id     bigint NOT NULL,
	sealed_key bytea NOT NULL, -- sealed under the account's data key, bound to device and key id
	created_at timestamptz NOT NULL,
	PRIMARY KEY (device_id, key_id)
);

CREATE TABLE data_files (
	device_id     text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	sequence      bigint NOT NULL,
	sha256        bytea NOT NULL,
	size          bigint NOT NULL,
	key_id        bigint NOT NULL,
	readings      bigint NOT NULL,
	first_reading bigint,
	last_reading  bigint,
	interval_ms   bigint NOT NULL,
	gaps          bytea, -- pairs of varints (from, to - from), NULL for none
	created_at    timestamptz NOT NULL,
	received_at   timestamptz NOT NULL,
	PRIMARY KEY (device_id, sequence)
);

-- One row per channel of each data file (per part of it, for files of many readings): the
-- channel's name, unit, resolution and readings, sealed. The primary key is the range scan: a
-- device's segments by start time. Sealed bytes are ciphertext, which does not compress: they
-- are stored without trying (EXTERNAL), out of line only when large.
CREATE TABLE segments (
	device_id     text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	t_min         bigint NOT NULL,
	file_sequence bigint NOT NULL,
	channel_index int NOT NULL,
	part          int NOT NULL,
	t_max         bigint NOT NULL,
	count         int NOT NULL,
	channel_tag   bytea NOT NULL, -- keyed blind index of the channel's name
	sealed        bytea NOT NULL,
	PRIMARY KEY (device_id, t_min, file_sequence, channel_index, part)
);
ALTER TABLE segments ALTER COLUMN sealed SET STORAGE EXTERNAL;

CREATE TABLE device_losses (
	device_id      text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	first_sequence bigint NOT NULL,
	last_sequence  bigint NOT NULL,
	from_time      timestamptz NOT NULL,
	to_time        timestamptz NOT NULL,
	files          bigint NOT NULL,
	reason         text NOT NULL,
	reported_at    timestamptz NOT NULL,
	PRIMARY KEY (device_id, first_sequence)
);
