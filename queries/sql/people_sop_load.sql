-- Cognitive-load view of SOPs: deviations raised against each SOP per 1,000 executions, per site and for
-- the network, over the whole calendar months overlapping the window (executions are counted monthly).
WITH months AS (
    SELECT site_id, sop_id, SUM(executions) AS executions
    FROM sop_executions
    WHERE month >= date_trunc('month', :start) AND month < :end
    GROUP BY site_id, sop_id
),
devs AS (
    SELECT site_id, sop_id, COUNT(*) AS deviations,
           SUM(CASE WHEN human_factors = 'cognitive_load' THEN 1 ELSE 0 END) AS cognitive_load
    FROM deviations
    WHERE sop_id IS NOT NULL AND detected_at >= date_trunc('month', :start) AND detected_at < :end
    GROUP BY site_id, sop_id
),
joined AS (
    SELECT COALESCE(m.site_id, d.site_id) AS site_id, COALESCE(m.sop_id, d.sop_id) AS sop_id,
           COALESCE(m.executions, 0) AS executions, COALESCE(d.deviations, 0) AS deviations,
           COALESCE(d.cognitive_load, 0) AS cognitive_load
    FROM months m FULL OUTER JOIN devs d ON d.site_id = m.site_id AND d.sop_id = m.sop_id
),
rolled AS (
    SELECT site_id, sop_id, GROUPING(site_id) AS all_sites, SUM(executions) AS executions,
           SUM(deviations) AS deviations, SUM(cognitive_load) AS cognitive_load
    FROM joined
    GROUP BY GROUPING SETS ((site_id, sop_id), (sop_id))
)
SELECT r.site_id, r.sop_id, t.title, r.executions, r.deviations, r.cognitive_load,
       1000.0 * r.deviations / NULLIF(r.executions, 0) AS per_1000_executions
FROM rolled r
LEFT JOIN (SELECT doc_id, MIN(title) AS title FROM documents GROUP BY doc_id) t ON t.doc_id = r.sop_id
WHERE (r.all_sites = 1 AND :network) OR r.site_id IN :sites
ORDER BY r.site_id, per_1000_executions DESC
