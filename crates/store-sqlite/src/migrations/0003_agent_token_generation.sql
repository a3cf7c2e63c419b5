-- Agents' token generation (raised by every cut-off; tokens carry the value they were minted
-- under). A migration of its own: data directories made before it keep their 0002.
ALTER TABLE agents ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
