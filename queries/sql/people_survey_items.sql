-- Distribution of scored item answers (items 1, 3, 5 reversed: 8 - x) per survey wave for the network,
-- each site and each team. The answers of a (site, wave) under :min_n enter no aggregate (as in
-- people_survey_groups.sql and the psych-safety KPI); only groups with at least :min_n respondents return
-- rows at all; groups recoverable by subtraction are dropped next, in queries/analyses/people.py.
WITH sized AS (
    SELECT response_id, wave, site_id, team, q1, q2, q3, q4, q5, q6, q7,
           COUNT(*) OVER (PARTITION BY wave, site_id) >= :min_n AS counted
    FROM survey_responses
    WHERE submitted_at < :end
),
r AS (
    SELECT response_id, wave, site_id, team,
           8 - q1 AS s1, q2 AS s2, 8 - q3 AS s3, q4 AS s4, 8 - q5 AS s5, q6 AS s6, q7 AS s7
    FROM sized
    WHERE counted
),
answers AS (
    SELECT wave, site_id, team, 'q1' AS item, s1 AS score FROM r
    UNION ALL SELECT wave, site_id, team, 'q2', s2 FROM r
    UNION ALL SELECT wave, site_id, team, 'q3', s3 FROM r
    UNION ALL SELECT wave, site_id, team, 'q4', s4 FROM r
    UNION ALL SELECT wave, site_id, team, 'q5', s5 FROM r
    UNION ALL SELECT wave, site_id, team, 'q6', s6 FROM r
    UNION ALL SELECT wave, site_id, team, 'q7', s7 FROM r
),
sizes AS (
    SELECT wave, site_id, team, GROUPING(site_id) AS all_sites, GROUPING(team) AS all_teams, COUNT(*) AS n
    FROM r
    GROUP BY GROUPING SETS ((wave), (wave, site_id), (wave, site_id, team))
),
counts AS (
    SELECT wave, site_id, team, GROUPING(site_id) AS all_sites, GROUPING(team) AS all_teams, item, score,
           COUNT(*) AS answers
    FROM answers
    GROUP BY GROUPING SETS ((wave, item, score), (wave, site_id, item, score), (wave, site_id, team, item, score))
)
SELECT c.wave,
       CASE WHEN c.all_sites = 1 THEN 'network' WHEN c.all_teams = 1 THEN 'site' ELSE 'team' END AS level,
       c.site_id, c.team, c.item, c.score, c.answers
FROM counts c
JOIN sizes s ON s.wave = c.wave AND s.all_sites = c.all_sites AND s.all_teams = c.all_teams
            AND s.site_id IS NOT DISTINCT FROM c.site_id AND s.team IS NOT DISTINCT FROM c.team
WHERE s.n >= :min_n
  AND ((c.all_sites = 1 AND :network) OR (c.all_sites = 0 AND c.site_id IN :sites))
ORDER BY c.wave, level, c.site_id, c.team, c.item, c.score
