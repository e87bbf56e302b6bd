-- Token families (issue 14, class 4): a personal API key minted with an
-- access token belongs to the authorization code that token came from, so
-- that a replayed code, or a reused refresh token of its family, revokes
-- the key with the tokens (RFC 6749 section 4.1.2, RFC 9700 section
-- 4.14.2). NULL for keys a seed or a person made.
ALTER TABLE personal_api_keys ADD COLUMN code_hash TEXT;
CREATE INDEX personal_api_keys_code ON personal_api_keys(code_hash);
