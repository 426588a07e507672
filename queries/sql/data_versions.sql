-- Current data version of every domain (part of every cache key).
SELECT domain, version FROM data_versions
