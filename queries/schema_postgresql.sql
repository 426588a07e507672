-- PostgreSQL-only DDL, applied by Warehouse.create_schema after the portable queries/schema.sql.
-- The audit trail is append-only in the database too: UPDATE, DELETE and TRUNCATE on audit_log are
-- refused by triggers, whatever path the statement comes from. (DuckDB has no triggers: there the
-- code offers no update or delete path and the hash chain shows any change made behind its back.)
CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'audit_log is append-only: ' || TG_OP || ' refused',
                          ERRCODE = 'insufficient_privilege';
END
$$;

DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log;
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- CAPA proposal decisions are signed records: kept as signed, whatever path a change comes from.
CREATE OR REPLACE FUNCTION capa_decision_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'capa_proposal_decisions are signed records: ' || TG_OP || ' refused',
                          ERRCODE = 'insufficient_privilege';
END
$$;

DROP TRIGGER IF EXISTS capa_decisions_unchanged ON capa_proposal_decisions;
CREATE TRIGGER capa_decisions_unchanged BEFORE UPDATE OR DELETE ON capa_proposal_decisions
    FOR EACH ROW EXECUTE FUNCTION capa_decision_refuse_change();

DROP TRIGGER IF EXISTS capa_decisions_no_truncate ON capa_proposal_decisions;
CREATE TRIGGER capa_decisions_no_truncate BEFORE TRUNCATE ON capa_proposal_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION capa_decision_refuse_change();

-- Validation reports and their signatures are kept as registered and signed (like the CAPA decisions).
CREATE OR REPLACE FUNCTION validation_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' are signed records: ' || TG_OP || ' refused',
                          ERRCODE = 'insufficient_privilege';
END
$$;

DROP TRIGGER IF EXISTS validation_reports_unchanged ON validation_reports;
CREATE TRIGGER validation_reports_unchanged BEFORE UPDATE OR DELETE ON validation_reports
    FOR EACH ROW EXECUTE FUNCTION validation_refuse_change();
DROP TRIGGER IF EXISTS validation_signatures_unchanged ON validation_signatures;
CREATE TRIGGER validation_signatures_unchanged BEFORE UPDATE OR DELETE ON validation_signatures
    FOR EACH ROW EXECUTE FUNCTION validation_refuse_change();
