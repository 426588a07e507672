"""Kpi: the KPI catalogue (the one declaration of every KPI) and the runner that computes it."""
