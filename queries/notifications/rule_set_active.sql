UPDATE notification_rules SET active = :active WHERE rule_id = :rule_id AND active <> :active
RETURNING rule_id
