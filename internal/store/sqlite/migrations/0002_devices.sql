-- Sites, devices, device keys, data files, readings and loss reports.
-- Times are Unix microseconds (UTC) except the times of readings, which are Unix milliseconds
-- as in the data files. Every table reaches accounts(id) through ON DELETE CASCADE foreign
-- keys, so deleting an account deletes its sites, devices, files and readings.

CREATE TABLE sites (
	id         TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	address    TEXT NOT NULL,
	time_zone  TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (account_id, name)
) WITHOUT ROWID;

-- The stats columns are running totals StoreFile keeps current, so a status reads one row.
-- max_span_ms is the longest segment of the device (t_max - t_min): it bounds the range scans
-- of segments from below.
CREATE TABLE devices (
	id                 TEXT PRIMARY KEY,
	account_id         TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	site_id            TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	serial             TEXT NOT NULL,
	network            TEXT NOT NULL, -- JSON, as provisioned
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
CREATE INDEX devices_account_serial ON devices (account_id, serial);
CREATE INDEX devices_site ON devices (site_id);
-- A serial names one device in service per account; decommissioned devices keep theirs, so the
-- same hardware can be registered again.
CREATE UNIQUE INDEX devices_serial_in_service ON devices (account_id, serial) WHERE decommissioned_at IS NULL;

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
-- channel's readings of that file, encoded by store.AppendSegment. The primary key is the range
-- scan: a device's segments by start time.
CREATE TABLE segments (
	device_id     TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	t_min         INTEGER NOT NULL,
	file_sequence INTEGER NOT NULL,
	channel_index INTEGER NOT NULL,
	part          INTEGER NOT NULL,
	t_max         INTEGER NOT NULL,
	count         INTEGER NOT NULL,
	channel       TEXT NOT NULL,
	unit          TEXT NOT NULL,
	resolution    INTEGER NOT NULL,
	data          BLOB NOT NULL,
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

-- Requests authenticated with a device credential name the device in the audit log.
ALTER TABLE audit_log ADD COLUMN device_id TEXT NOT NULL DEFAULT '';
