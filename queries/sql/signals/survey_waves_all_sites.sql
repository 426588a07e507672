-- Psychological safety index per site and survey wave, every site, waves closed before :end; same
-- scoring as metrics/psych_safety.sql. Groups under :min_n respondents never leave SQL.
WITH r AS (
    SELECT site_id, wave, submitted_at,
           ((8 - q1) + q2 + (8 - q3) + q4 + (8 - q5) + q6 + q7) / 7.0 AS score
    FROM survey_responses
    WHERE submitted_at < :end
)
SELECT site_id, wave, MAX(submitted_at) AS closed_at, (AVG(score) - 1) / 6.0 * 100 AS index_0_100
FROM r
GROUP BY site_id, wave
HAVING COUNT(*) >= :min_n
ORDER BY site_id, wave
