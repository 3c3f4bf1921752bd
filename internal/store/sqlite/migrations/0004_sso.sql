-- Single sign-on through OpenID Connect (issue 16): an account's link to its identity provider,
-- the e-mail domains it signs in, and its users' identities at the provider.
--
-- The settings (issuer, client id, domains, role mapping) and the client secret are sealed
-- under the account's data key; domains are found by a keyed blind index that is the same in
-- every account, since a sign-in names an e-mail before the account is known (a domain signs in
-- to one account). A user's identity is the blind index of the provider's issuer and subject,
-- and the provider's refresh token, sealed, that the server uses to ask the provider whether
-- the user still exists.

CREATE TABLE sso_links (
	account_id          TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
	sealed              BLOB NOT NULL, -- issuer, client id, domains, role mapping
	sealed_secret       BLOB NOT NULL, -- the client secret
	require_sso         INTEGER NOT NULL,
	break_glass_user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
	created_at          INTEGER NOT NULL,
	updated_at          INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE sso_domains (
	domain_index BLOB PRIMARY KEY, -- keyed blind index of the lower-case domain, platform-wide
	account_id   TEXT NOT NULL REFERENCES sso_links (account_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX sso_domains_account ON sso_domains (account_id);

CREATE TABLE sso_identities (
	user_id              TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	account_id           TEXT NOT NULL REFERENCES sso_links (account_id) ON DELETE CASCADE,
	subject_index        BLOB NOT NULL, -- keyed blind index of the issuer and subject
	sealed_refresh       BLOB,          -- the provider's refresh token; NULL without one
	checked_at           INTEGER NOT NULL,
	provider_disabled_at INTEGER,       -- set when the provider's answer disabled the user
	created_at           INTEGER NOT NULL,
	updated_at           INTEGER NOT NULL,
	UNIQUE (account_id, subject_index)
) WITHOUT ROWID;
CREATE INDEX sso_identities_check ON sso_identities (checked_at) WHERE sealed_refresh IS NOT NULL;
