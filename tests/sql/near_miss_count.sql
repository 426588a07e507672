SELECT COUNT(*) AS n FROM near_misses
