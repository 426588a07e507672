-- Psychological safety index per site and wave (all waves up to the window end), same scoring as
-- metrics/psych_safety.sql; waves with fewer than :min_n respondents return no value and no count.
WITH r AS (
    SELECT site_id, wave,
           ((8 - q1) + q2 + (8 - q3) + q4 + (8 - q5) + q6 + q7) / 7.0 AS score
    FROM survey_responses
    WHERE site_id IN :sites AND submitted_at < :end
),
g AS (
    SELECT site_id, wave, COUNT(*) AS respondents, AVG(score) AS score_1_7 FROM r GROUP BY site_id, wave
)
SELECT site_id, wave,
       CASE WHEN respondents >= :min_n THEN (score_1_7 - 1) / 6.0 * 100 END AS index_0_100,
       CASE WHEN respondents >= :min_n THEN respondents END AS respondents,
       respondents < :min_n AS suppressed
FROM g
ORDER BY wave
