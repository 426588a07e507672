-- Used by the property-based import tests to reset between examples.
DELETE FROM training_records WHERE record_id IN :ids
