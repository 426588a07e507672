SELECT category, description FROM near_misses WHERE near_miss_id = :near_miss_id
