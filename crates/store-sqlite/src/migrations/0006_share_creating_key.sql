-- The person's API key a share was made with: the share stops opening when that key is
-- deleted or expires (nothing outlives what made it). Agents' shares and older rows: NULL.
ALTER TABLE shares ADD COLUMN created_with_key BLOB;
