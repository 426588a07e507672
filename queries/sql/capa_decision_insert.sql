-- Record one signed QA decision on a CAPA proposal; the primary key refuses a second decision.
INSERT INTO capa_proposal_decisions (proposal_id, site_ids, source, signal, evidence, decision, capa_ref, reason,
                                     decided_by, decided_at, record_sha256)
VALUES (:proposal_id, :site_ids, :source, :signal, :evidence, :decision, :capa_ref, :reason,
        :decided_by, :decided_at, :record_sha256)
