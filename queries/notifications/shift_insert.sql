INSERT INTO on_call_shifts (shift_id, site_id, days, starts, ends, recipient, active, created_by, created_at)
VALUES (:shift_id, :site_id, :days, :starts, :ends, :recipient, TRUE, :created_by, :created_at)
