-- KPI psych_safety: Edmondson (1999) 7-item scale; items 1, 3, 5 reverse-scored (8 - x).
-- Respondent score = mean of 7 items; group index = mean of respondent scores, on 0-100 as
-- (score - 1) / 6 * 100.
-- The unit of anonymity is a (site, survey wave) group. A group counts in a window when its last
-- answer lies in the window, and only with at least :min_n respondents; smaller groups enter no
-- aggregate at all (site or network). So any two windows, or a site and the network, differ by whole
-- groups of :min_n or more, and no subtraction can isolate fewer than :min_n answers.
WITH r AS (
    SELECT site_id, wave,
           ((8 - q1) + q2 + (8 - q3) + q4 + (8 - q5) + q6 + q7) / 7.0 AS score,
           submitted_at
    FROM survey_responses
),
waves AS (
    SELECT site_id, wave, COUNT(*) AS respondents, MAX(submitted_at) AS closed_at
    FROM r GROUP BY site_id, wave
),
in_window AS (
    SELECT site_id, wave, respondents >= :min_n AS shown
    FROM waves WHERE closed_at >= :start AND closed_at < :end
),
scored AS (
    SELECT r.site_id, CASE WHEN w.shown THEN r.score END AS score
    FROM r JOIN in_window w ON w.site_id = r.site_id AND w.wave = r.wave
),
g AS (
    SELECT site_id, GROUPING(site_id) AS is_network, COUNT(score) AS respondents, AVG(score) AS score_1_7
    FROM scored
    GROUP BY ROLLUP (site_id)
)
SELECT site_id,
       CASE WHEN respondents > 0 THEN (score_1_7 - 1) / 6.0 * 100 END AS value,
       CASE WHEN respondents > 0 THEN respondents END AS n,
       CASE WHEN respondents > 0 THEN score_1_7 END AS score_1_7,
       respondents = 0 AS suppressed
FROM g
WHERE (is_network = 1 AND :network) OR site_id IN :sites
