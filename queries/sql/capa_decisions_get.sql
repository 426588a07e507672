-- Decisions on the given proposals (ids the server computed for the user's scope).
SELECT proposal_id, decision, capa_ref, reason, decided_by, decided_at, record_sha256
FROM capa_proposal_decisions
WHERE proposal_id IN :ids
