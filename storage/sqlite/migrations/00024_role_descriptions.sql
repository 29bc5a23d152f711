-- Role descriptions in people's words (organisation data): the shipped
-- regular role described itself by a section of the specification, and
-- roles that a policy import or restore named were described by the
-- internal name of the action. Every node rewrites the same rows the same
-- way, so the replicated copies stay equal.

-- +goose Up
UPDATE roles SET description = 'a registered user: the assistance product, contacts, call logs, service reports and every in-call function'
    WHERE name = 'regular' AND description = 'a registered user: the default matrix of SPEC.md section 5';
UPDATE roles SET description = 'added by a policy import' WHERE description = 'created by policy.import';
UPDATE roles SET description = 'added when an earlier version of the policy was restored' WHERE description = 'created by policy.restore';

-- +goose Down
UPDATE roles SET description = 'a registered user: the default matrix of SPEC.md section 5'
    WHERE name = 'regular' AND description = 'a registered user: the assistance product, contacts, call logs, service reports and every in-call function';
UPDATE roles SET description = 'created by policy.import' WHERE description = 'added by a policy import';
UPDATE roles SET description = 'created by policy.restore' WHERE description = 'added when an earlier version of the policy was restored';
