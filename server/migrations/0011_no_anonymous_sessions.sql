-- Sessions belong to signed-in people only (issue 14, class 5): a browser
-- that has not signed in is recognised by its signed form cookie, not by a
-- row. Rows an earlier version stored for anonymous browsers are never read
-- again; they go.
DELETE FROM login_sessions WHERE user_id IS NULL;
