-- Empties the chunk staging table for the next chunk.
TRUNCATE sample_stage_readings
