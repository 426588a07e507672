-- Psychological safety per survey wave for the network, each site and each team (Edmondson 1999;
-- items 1, 3, 5 reverse-scored 8 - x; respondent score = mean of 7; group index = mean of respondents).
-- Waves submitted before the window end, all of them (the wave is the time axis of this view).
-- The unit of anonymity is the (site, wave) group, as in the psych-safety KPI: answers of a site-wave
-- with fewer than :min_n respondents enter no aggregate at all (no team, site or network figure), so
-- the network here counts the same respondents as the KPI's network row and no subtraction between the
-- two isolates a small group. Groups with fewer than :min_n counted respondents return no count and no
-- value: only their keys and suppressed = TRUE. Item variances (sample) feed Cronbach's alpha.
-- Complementary suppression (a group recoverable by subtraction) is applied next, in queries/analyses/people.py.
WITH answers AS (
    SELECT wave, site_id, team, q1, q2, q3, q4, q5, q6, q7,
           COUNT(*) OVER (PARTITION BY wave, site_id) >= :min_n AS counted
    FROM survey_responses
    WHERE submitted_at < :end
),
r AS (
    SELECT wave, site_id, team, counted,
           CASE WHEN counted THEN 8 - q1 END AS s1, CASE WHEN counted THEN q2 END AS s2,
           CASE WHEN counted THEN 8 - q3 END AS s3, CASE WHEN counted THEN q4 END AS s4,
           CASE WHEN counted THEN 8 - q5 END AS s5, CASE WHEN counted THEN q6 END AS s6,
           CASE WHEN counted THEN q7 END AS s7
    FROM answers
),
g AS (
    SELECT wave, site_id, team, GROUPING(site_id) AS all_sites, GROUPING(team) AS all_teams,
           SUM(CASE WHEN counted THEN 1 ELSE 0 END) AS n,
           AVG((s1 + s2 + s3 + s4 + s5 + s6 + s7) / 7.0) AS score,
           AVG(1.0 * s1) AS m1, AVG(1.0 * s2) AS m2, AVG(1.0 * s3) AS m3, AVG(1.0 * s4) AS m4,
           AVG(1.0 * s5) AS m5, AVG(1.0 * s6) AS m6, AVG(1.0 * s7) AS m7,
           VAR_SAMP(1.0 * s1) AS v1, VAR_SAMP(1.0 * s2) AS v2, VAR_SAMP(1.0 * s3) AS v3,
           VAR_SAMP(1.0 * s4) AS v4, VAR_SAMP(1.0 * s5) AS v5, VAR_SAMP(1.0 * s6) AS v6,
           VAR_SAMP(1.0 * s7) AS v7,
           VAR_SAMP(1.0 * (s1 + s2 + s3 + s4 + s5 + s6 + s7)) AS v_total
    FROM r
    GROUP BY GROUPING SETS ((wave), (wave, site_id), (wave, site_id, team))
)
SELECT wave,
       CASE WHEN all_sites = 1 THEN 'network' WHEN all_teams = 1 THEN 'site' ELSE 'team' END AS level,
       site_id, team,
       n >= :min_n AS shown,
       CASE WHEN n >= :min_n THEN n END AS respondents,
       CASE WHEN n >= :min_n THEN score END AS score_1_7,
       CASE WHEN n >= :min_n THEN (score - 1) / 6.0 * 100 END AS index_0_100,
       CASE WHEN n >= :min_n THEN m1 END AS m1, CASE WHEN n >= :min_n THEN m2 END AS m2,
       CASE WHEN n >= :min_n THEN m3 END AS m3, CASE WHEN n >= :min_n THEN m4 END AS m4,
       CASE WHEN n >= :min_n THEN m5 END AS m5, CASE WHEN n >= :min_n THEN m6 END AS m6,
       CASE WHEN n >= :min_n THEN m7 END AS m7,
       CASE WHEN n >= :min_n THEN v1 END AS v1, CASE WHEN n >= :min_n THEN v2 END AS v2,
       CASE WHEN n >= :min_n THEN v3 END AS v3, CASE WHEN n >= :min_n THEN v4 END AS v4,
       CASE WHEN n >= :min_n THEN v5 END AS v5, CASE WHEN n >= :min_n THEN v6 END AS v6,
       CASE WHEN n >= :min_n THEN v7 END AS v7,
       CASE WHEN n >= :min_n THEN v_total END AS v_total
FROM g
WHERE (all_sites = 1 AND :network) OR (all_sites = 0 AND site_id IN :sites)
ORDER BY wave, level, site_id, team
