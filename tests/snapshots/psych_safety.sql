-- KPI psych_safety: Edmondson (1999) 7-item scale; items 1, 3, 5 reverse-scored (8 - x).
-- Respondent score = mean of 7 items; group index = mean of respondent scores, on 0-100 as
-- (score - 1) / 6 * 100. Groups with fewer than :min_n respondents are suppressed here, in SQL,
-- so no caller ever receives their value or their count.
WITH r AS (
    SELECT site_id,
           ((8 - q1) + q2 + (8 - q3) + q4 + (8 - q5) + q6 + q7) / 7.0 AS score
    FROM survey_responses
    WHERE submitted_at >= :start AND submitted_at < :end
),
g AS (
    SELECT site_id, GROUPING(site_id) AS is_network, COUNT(*) AS respondents, AVG(score) AS score_1_7
    FROM r
    GROUP BY ROLLUP (site_id)
)
SELECT site_id,
       CASE WHEN respondents >= :min_n THEN (score_1_7 - 1) / 6.0 * 100 END AS value,
       CASE WHEN respondents >= :min_n THEN respondents END AS n,
       CASE WHEN respondents >= :min_n THEN score_1_7 END AS score_1_7,
       respondents < :min_n AS suppressed
FROM g
WHERE (is_network = 1 AND :network) OR site_id IN :sites
