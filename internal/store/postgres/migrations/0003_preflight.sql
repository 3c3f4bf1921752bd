-- Preflight runs installers send to a site (issue 17): the result document of `smartx
-- preflight` and the address it was sent from, sealed together under the account's data key
-- (the SQLite store's 0005_preflight.sql). A run goes with its site and its account (ON DELETE
-- CASCADE); user_id and token_id say who sent it and, like the audit log's, have no foreign
-- key: the run stays when the user or token is deleted. run_index, a keyed blind index of the
-- document, keeps one copy of a run sent twice.

CREATE TABLE preflight_runs (
	id           text PRIMARY KEY,
	account_id   text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	site_id      text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	user_id      text NOT NULL,
	token_id     text NOT NULL,
	run_index    bytea NOT NULL,
	generated_at timestamptz NOT NULL,
	uploaded_at  timestamptz NOT NULL,
	size         bigint NOT NULL,
	sealed       bytea NOT NULL,
	UNIQUE (site_id, run_index)
);
CREATE INDEX preflight_runs_site ON preflight_runs (site_id, generated_at);
CREATE INDEX preflight_runs_account ON preflight_runs (account_id);
CREATE INDEX preflight_runs_uploaded ON preflight_runs (uploaded_at);
