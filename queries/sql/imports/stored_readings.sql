-- Readings an earlier import stored under these ids (import:<sensor>@<time>): the same export again
-- stores nothing new, and a contradicting value is named.
SELECT msg_id, value FROM readings WHERE msg_id IN :ids
