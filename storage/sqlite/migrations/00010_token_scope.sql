-- API tokens carry a scope: 'read' (GET and HEAD only) or 'full'.
-- Tokens made before scopes existed keep doing what they did.

-- +goose Up
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'full';

-- +goose Down
ALTER TABLE api_tokens DROP COLUMN scope;
