-- Whether an excursion still calls for its escalation: who acknowledged it and when (NULL: nobody yet).
SELECT acknowledged_at, acknowledged_by FROM excursions WHERE excursion_id = :excursion_id
