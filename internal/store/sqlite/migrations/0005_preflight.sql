-- Preflight runs installers send to a site (issue 17): the result document of `smartx
-- preflight` and the address it was sent from, sealed together under the account's data key.
-- Times are Unix microseconds (UTC). A run goes with its site and its account (ON DELETE
-- CASCADE); user_id and token_id say who sent it and, like the audit log's, have no foreign
-- key: the run stays when the user or token is deleted. run_index, a keyed blind index of the
-- document, keeps one copy of a run sent twice. The documents are a few kilobytes each, so the
-- table keeps its rowid (WITHOUT ROWID suits small rows).

CREATE TABLE preflight_runs (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	site_id      TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	user_id      TEXT NOT NULL,
	token_id     TEXT NOT NULL,
	run_index    BLOB NOT NULL,
	generated_at INTEGER NOT NULL,
	uploaded_at  INTEGER NOT NULL,
	size         INTEGER NOT NULL,
	sealed       BLOB NOT NULL,
	UNIQUE (site_id, run_index)
);
CREATE INDEX preflight_runs_site ON preflight_runs (site_id, generated_at);
CREATE INDEX preflight_runs_account ON preflight_runs (account_id);
CREATE INDEX preflight_runs_uploaded ON preflight_runs (uploaded_at);
