-- Where each revision's graph code may connect (`egress` of its langgraph.json, as the builder
-- normalized it: "api.openai.com:443", "203.0.113.0/24:443,8443"); a redeploy copies it.
ALTER TABLE revisions ADD COLUMN egress text[] NOT NULL DEFAULT '{}';
