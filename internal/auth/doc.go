// Package auth holds the platform's credentials and keys: argon2id password hashing and the
// NIST SP 800-63B password policy, the AES-256-GCM envelope (a master key wraps per-account
// data keys, which wrap the account's token keys and, later, device keys), and API and session
// tokens: JWE (alg dir, enc A256GCM) with encrypted claims, stored server side only as a salted
// SHA-256, verified against an in-memory cache that the store's revocation epoch keeps exact.
//
// It knows nothing of HTTP: internal/server maps its errors to problem details.
package auth
