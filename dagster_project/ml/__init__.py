"""Predictive models over marts.customer_activity_snapshots: churn risk and purchase propensity."""
