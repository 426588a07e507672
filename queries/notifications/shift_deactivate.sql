UPDATE on_call_shifts SET active = FALSE WHERE shift_id = :shift_id AND active RETURNING shift_id
