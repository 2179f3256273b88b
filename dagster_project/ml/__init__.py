"""Predictive models over marts.customer_activity_snapshots: churn risk and purchase propensity."""

import os

# Read once, when scikit-learn loads its OpenMP runtime (after this, on importing ml.models): idle
# OpenMP threads then sleep instead of spinning. Spinning threads fight the machine's other work for
# the cores: on 2 busy cores, training took 14x longer (README, "1,000,000 people"). Same results.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
