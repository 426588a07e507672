SELECT COUNT(*) AS n FROM training_records
